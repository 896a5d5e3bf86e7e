// Package tracker builds and serves t.js: the tracker-js source bundled and
// minified with esbuild's Go API at start-up, served with an ETag, a short
// cache lifetime at /t.js and an immutable, versioned URL for pinning.
package tracker

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/evanw/esbuild/pkg/api"
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
	res := api.Build(api.BuildOptions{
		EntryPoints:       []string{"src/index.js"},
		Bundle:            true,
		Write:             false,
		MinifyWhitespace:  true,
		MinifyIdentifiers: true,
		MinifySyntax:      true,
		Format:            api.FormatIIFE,
		Target:            api.ES2019,
		Charset:           api.CharsetUTF8,
		LegalComments:     api.LegalCommentsNone,
		Loader:            map[string]api.Loader{".css": api.LoaderText},
		Plugins:           []api.Plugin{fsPlugin(fsys)},
		Outfile:           "t.js",
	})
	if len(res.Errors) > 0 {
		msgs := api.FormatMessages(res.Errors, api.FormatMessagesOptions{Kind: api.ErrorMessage})
		return nil, fmt.Errorf("tracker: build: %s", strings.Join(msgs, "\n"))
	}
	if len(res.OutputFiles) != 1 {
		return nil, errors.New("tracker: build produced no single output")
	}
	js := res.OutputFiles[0].Contents
	var gz bytes.Buffer
	w, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	w.Write(js)
	w.Close()
	sum := sha256.Sum256(js)
	return &Script{JS: js, Gzipped: gz.Bytes(), Version: hex.EncodeToString(sum[:6])}, nil
}

// fsPlugin makes esbuild read the sources from fsys instead of the disk.
func fsPlugin(fsys fs.FS) api.Plugin {
	return api.Plugin{Name: "fs", Setup: func(b api.PluginBuild) {
		b.OnResolve(api.OnResolveOptions{Filter: `.*`}, func(a api.OnResolveArgs) (api.OnResolveResult, error) {
			p := a.Path
			if a.Importer != "" {
				p = path.Join(path.Dir(a.Importer), a.Path)
			}
			if !strings.HasSuffix(p, ".js") && !strings.HasSuffix(p, ".css") {
				p += ".js"
			}
			return api.OnResolveResult{Path: path.Clean(p), Namespace: "fs"}, nil
		})
		b.OnLoad(api.OnLoadOptions{Filter: `.*`, Namespace: "fs"}, func(a api.OnLoadArgs) (api.OnLoadResult, error) {
			data, err := fs.ReadFile(fsys, a.Path)
			if err != nil {
				return api.OnLoadResult{}, err
			}
			s := string(data)
			loader := api.LoaderJS
			if strings.HasSuffix(a.Path, ".css") {
				loader = api.LoaderText
				s = minifyCSS(s)
			}
			return api.OnLoadResult{Contents: &s, Loader: loader}, nil
		})
	}}
}

// minifyCSS minifies a stylesheet with esbuild before it is inlined.
func minifyCSS(css string) string {
	r := api.Transform(css, api.TransformOptions{Loader: api.LoaderCSS, MinifyWhitespace: true, MinifySyntax: true})
	if len(r.Errors) > 0 {
		return css
	}
	return strings.TrimSpace(string(r.Code))
}
