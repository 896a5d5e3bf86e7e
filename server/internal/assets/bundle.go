// Package assets builds Crumb's front-end code when the server starts: the
// tracker script t.js (with its gzipped form, version and entity tag) and the
// dashboard UI. The sources are bundled and minified with esbuild's Go API
// from an fs.FS (an embedded folder), so that production needs no Node.js.
// Serving the built bytes is package httpapi's.
package assets

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/evanw/esbuild/pkg/api"
)

// bundleJS bundles entry (a path in fsys) with everything it imports into
// one minified IIFE. Imported .css files become strings (minified).
func bundleJS(fsys fs.FS, entry string) ([]byte, error) {
	res := api.Build(api.BuildOptions{
		EntryPoints:       []string{entry},
		Bundle:            true,
		Write:             false,
		MinifyWhitespace:  true,
		MinifyIdentifiers: true,
		MinifySyntax:      true,
		Format:            api.FormatIIFE,
		Target:            api.ES2019,
		Charset:           api.CharsetUTF8,
		LegalComments:     api.LegalCommentsNone,
		Plugins:           []api.Plugin{fsPlugin(fsys)},
		Outfile:           "out.js",
	})
	if len(res.Errors) > 0 {
		msgs := api.FormatMessages(res.Errors, api.FormatMessagesOptions{Kind: api.ErrorMessage})
		return nil, fmt.Errorf("bundle %s: %s", entry, strings.Join(msgs, "\n"))
	}
	if len(res.OutputFiles) != 1 {
		return nil, errors.New("bundle: build produced no single output")
	}
	return res.OutputFiles[0].Contents, nil
}

// minifyCSS minifies a stylesheet.
func minifyCSS(css string) (string, error) {
	r := api.Transform(css, api.TransformOptions{Loader: api.LoaderCSS, MinifyWhitespace: true, MinifySyntax: true})
	if len(r.Errors) > 0 {
		return "", fmt.Errorf("bundle: css: %s", r.Errors[0].Text)
	}
	return strings.TrimSpace(string(r.Code)), nil
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
				if min, err := minifyCSS(s); err == nil {
					s = min
				}
			}
			return api.OnLoadResult{Contents: &s, Loader: loader}, nil
		})
	}}
}
