package httpapi

import "testing"

func TestCell(t *testing.T) {
	for in, want := range map[any]string{
		"=HYPERLINK(1)": "'=HYPERLINK(1)", "+1": "'+1", "@x": "'@x", "/page": "/page", "": "",
		int64(-3): "-3", 33.3: "33.3", 1e21: "1e+21", 0.0000001: "1e-7", 12.0: "12",
	} {
		if got := cell(in); got != want {
			t.Errorf("cell(%v) = %q, want %q", in, got, want)
		}
	}
}
