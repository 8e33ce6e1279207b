//go:build e2e

package e2e

import (
	"testing"

	"github.com/paved-dev/paved/e2e/pavedproc"
)

// TestMain removes the paved binary the suite built once its tests are done.
func TestMain(m *testing.M) { pavedproc.Main(m) }
