package server

import (
	"encoding/csv"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
)

// TestWriteCSVDefusesFormulas: a cell a spreadsheet would run (ASVS 1.2.10:
// a first character of =, +, -, @, tab, carriage return or NUL) is written
// behind an apostrophe; numbers, negative ones included, stay numbers.
func TestWriteCSVDefusesFormulas(t *testing.T) {
	cells := map[string]string{
		"=cmd|' /C calc'!A0": "'=cmd|' /C calc'!A0",
		"+1+cmd|' /C calc'":  "'+1+cmd|' /C calc'",
		"-2+3+cmd":           "'-2+3+cmd",
		"@SUM(1+1)*cmd":      "'@SUM(1+1)*cmd",
		"\t=1+1":             "'\t=1+1",
		"\r=1+1":             "'\r=1+1",
		"\x00=1+1":           "'\x00=1+1",
		"-12.5":              "-12.5",
		"0.95":               "0.95",
		"a = b":              "a = b",
		"":                   "",
	}
	var row []string
	for in := range cells {
		row = append(row, in)
	}
	rec := httptest.NewRecorder()
	c := echo.New().NewContext(httptest.NewRequest("GET", "/", nil), rec)
	if err := writeCSV(c, "test", [][]string{append([]string(nil), row...)}); err != nil {
		t.Fatal(err)
	}
	got, err := csv.NewReader(strings.NewReader(rec.Body.String())).Read()
	if err != nil || len(got) != len(row) {
		t.Fatalf("the CSV %q does not read back: %v", rec.Body.String(), err)
	}
	for i, in := range row {
		if got[i] != cells[in] {
			t.Errorf("cell %q is written %q, want %q", in, got[i], cells[in])
		}
	}
}
