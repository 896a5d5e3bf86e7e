package assets

import (
	"fmt"
	"io/fs"
	"strings"
)

// Dashboard is the built dashboard UI.
type Dashboard struct {
	// Index is the single-page app's HTML; Login the login page's.
	Index, Login []byte
	// Files are the bundled assets by file name (app.js, login.js, app.css).
	Files map[string]File
}

// File is one built asset.
type File struct {
	Body        []byte
	ContentType string
}

// BuildDashboard bundles the UI from web (the dashboards/web folder).
func BuildDashboard(web fs.FS) (*Dashboard, error) {
	d := &Dashboard{Files: map[string]File{}}
	var err error
	if d.Index, err = fs.ReadFile(web, "web/index.html"); err != nil {
		return nil, fmt.Errorf("dashboard: %w", err)
	}
	if d.Login, err = fs.ReadFile(web, "web/login.html"); err != nil {
		return nil, fmt.Errorf("dashboard: %w", err)
	}
	for name, entry := range map[string]string{"app.js": "web/src/app.js", "login.js": "web/src/login.js"} {
		js, err := bundleJS(web, entry)
		if err != nil {
			return nil, fmt.Errorf("dashboard: %w", err)
		}
		d.Files[name] = File{js, "text/javascript; charset=utf-8"}
	}
	var css strings.Builder
	for _, f := range []string{"web/vendor/uplot/uPlot.min.css", "web/src/app.css"} {
		b, err := fs.ReadFile(web, f)
		if err != nil {
			return nil, fmt.Errorf("dashboard: %w", err)
		}
		css.Write(b)
		css.WriteByte('\n')
	}
	min, err := minifyCSS(css.String())
	if err != nil {
		return nil, fmt.Errorf("dashboard: %w", err)
	}
	d.Files["app.css"] = File{[]byte(min), "text/css; charset=utf-8"}
	return d, nil
}
