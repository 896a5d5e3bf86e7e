package httpapi

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"errors"
	"io"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// decodeBody enforces the body limit and undoes one gzip or deflate Content-Encoding of a request body
// before any handler reads it, so that what a handler sees, and what the
// body limit counts, is the decoded body. Decoding stops at the limit: a
// small body that expands without end costs no more than one that is not
// compressed. Chained and unknown encodings are refused with 415.
func decodeBody(limit int) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if len(c.Request().Body()) > limit {
			return errTooLarge
		}
		raw := c.Request().Header.ContentEncoding()
		if len(raw) == 0 {
			return c.Next()
		}
		enc := strings.ToLower(strings.TrimSpace(string(raw)))
		var open func(io.Reader) (io.ReadCloser, error)
		switch enc {
		case "identity":
		case "gzip", "x-gzip":
			open = func(r io.Reader) (io.ReadCloser, error) { return gzip.NewReader(r) }
		case "deflate":
			open = func(r io.Reader) (io.ReadCloser, error) { return flate.NewReader(r), nil }
		default:
			return fiber.NewError(fiber.StatusUnsupportedMediaType, "Content-Encoding must be gzip, deflate or none; one encoding, not a chain")
		}
		if open != nil && len(c.Request().Body()) > 0 {
			body, err := decodeLimited(open, c.Request().Body(), limit)
			if err != nil {
				return err
			}
			c.Request().SetBodyRaw(body)
		}
		c.Request().Header.Del(fiber.HeaderContentEncoding)
		return c.Next()
	}
}

var errTooLarge = fiber.NewError(fiber.StatusRequestEntityTooLarge, "request body too large")

func decodeLimited(open func(io.Reader) (io.ReadCloser, error), compressed []byte, limit int) ([]byte, error) {
	r, err := open(bytes.NewReader(compressed))
	if err != nil {
		return nil, fiber.NewError(fiber.StatusBadRequest, "the body is not valid for its Content-Encoding")
	}
	defer r.Close()
	body, err := io.ReadAll(io.LimitReader(r, int64(limit)+1))
	switch {
	case len(body) > limit:
		return nil, errTooLarge
	case err != nil && !errors.Is(err, io.EOF):
		return nil, fiber.NewError(fiber.StatusBadRequest, "the body is not valid for its Content-Encoding")
	}
	return body, nil
}
