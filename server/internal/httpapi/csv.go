package httpapi

import (
	"encoding/csv"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/crumbhq/crumb/server/internal/report/result"
)

// writeCSV writes t as CSV; name becomes the download's file name.
func writeCSV(c *fiber.Ctx, name string, t result.Table) error {
	c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+name+`.csv"`)
	var b strings.Builder
	w := csv.NewWriter(&b)
	_ = w.Write(t.Header)
	rec := make([]string, 0, len(t.Header))
	for _, row := range t.Rows {
		rec = rec[:0]
		for _, v := range row {
			rec = append(rec, cell(v))
		}
		_ = w.Write(rec)
	}
	w.Flush()
	return c.SendString(b.String())
}

// cell formats one CSV cell: numbers exactly as JSON writes them, text
// that a spreadsheet would run as a formula prefixed with a quote.
func cell(v any) string {
	switch x := v.(type) {
	case string:
		if x != "" && strings.ContainsRune("=+-@\t\r", rune(x[0])) {
			return "'" + x
		}
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	case int:
		return strconv.Itoa(x)
	case float64:
		return formatFloat(x)
	case nil:
		return ""
	}
	return fmt.Sprint(v)
}

// formatFloat is encoding/json's float64 format.
func formatFloat(f float64) string {
	abs := math.Abs(f)
	fmtByte := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		fmtByte = 'e'
	}
	s := strconv.FormatFloat(f, fmtByte, -1, 64)
	if fmtByte == 'e' {
		n := len(s)
		if n >= 4 && s[n-4] == 'e' && s[n-3] == '-' && s[n-2] == '0' {
			s = s[:n-2] + s[n-1:]
		}
	}
	return s
}
