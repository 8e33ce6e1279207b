//go:build chaos

package chaos_test

import (
	"testing"

	"github.com/paved-dev/paved/e2e/pavedproc"
)

// TestMain removes the paved binary the suite built once its tests are done.
func TestMain(m *testing.M) { pavedproc.Main(m) }
