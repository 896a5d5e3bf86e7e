package imports

import (
	"io"
	"strings"
	"testing"
)

// An input longer than the limit fails at the limit, so that an export is
// never read in part and stored as if whole.
func TestLimited_FailsBeyondTheLimit(t *testing.T) {
	if b, err := io.ReadAll(&limited{r: strings.NewReader("abc"), left: 3}); err != nil || string(b) != "abc" {
		t.Errorf("exactly the limit: %q, %v", b, err)
	}
	if _, err := io.ReadAll(&limited{r: strings.NewReader("abcd"), left: 3}); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("over the limit: %v", err)
	}
}
