package assets

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
)

// Script is the built tracker script, t.js.
type Script struct {
	JS      []byte
	Gzipped []byte
	// Version is a short hash of the bundle, used in /t/<Version>.js.
	Version string
}

// ETag is the bundle's entity tag.
func (s *Script) ETag() string { return `"` + s.Version + `"` }

// BuildScript bundles src/index.js of fsys (the tracker-js source) with
// everything it imports, and gzips it at the best level.
func BuildScript(fsys fs.FS) (*Script, error) {
	js, err := bundleJS(fsys, "src/index.js")
	if err != nil {
		return nil, fmt.Errorf("tracker: %w", err)
	}
	var gz bytes.Buffer
	w, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	w.Write(js)
	w.Close()
	sum := sha256.Sum256(js)
	return &Script{JS: js, Gzipped: gz.Bytes(), Version: hex.EncodeToString(sum[:6])}, nil
}
