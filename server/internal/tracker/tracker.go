// Package tracker builds and serves t.js: the tracker-js source bundled and
// minified with esbuild's Go API at start-up, served with an ETag, a short
// cache lifetime at /t.js and an immutable, versioned URL for pinning.
package tracker

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"

	"github.com/crumbhq/crumb/server/internal/bundle"
)

// Script is the built bundle.
type Script struct {
	JS      []byte
	Gzipped []byte
	// Version is a short hash of the bundle, used in /t/<Version>.js.
	Version string
}

// ETag is the bundle's entity tag.
func (s *Script) ETag() string { return `"` + s.Version + `"` }

// Build bundles src/index.js of fsys with everything it imports.
func Build(fsys fs.FS) (*Script, error) {
	js, err := bundle.JS(fsys, "src/index.js")
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
