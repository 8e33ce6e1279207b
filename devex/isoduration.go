package devex

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// AnnotationTimeSaved is the template annotation that says how much time one
// run saves, as an ISO 8601 duration ("PT2H"); Backstage's own analytics read
// the same annotation.
const AnnotationTimeSaved = "backstage.io/time-saved"

// maxTimeSaved bounds what one run may claim: a typo such as "P10Y" must not
// swamp every figure.
const maxTimeSaved = 365 * 24 * time.Hour

// ParseISODuration parses an ISO 8601 duration such as "PT2H", "P1DT30M" or
// "PT1.5H", the forms luxon's Duration.fromISO accepts. A year counts 365
// days and a month 30, as luxon's casual conversion does. Negative and
// over-large durations are refused.
func ParseISODuration(s string) (time.Duration, error) {
	orig := s
	s = strings.ToUpper(strings.TrimSpace(s))
	if !strings.HasPrefix(s, "P") || len(s) < 3 {
		return 0, fmt.Errorf("%q is not an ISO 8601 duration", orig)
	}
	s = s[1:]
	const day = 24 * float64(time.Hour)
	dateUnits := map[byte]float64{'Y': 365 * day, 'M': 30 * day, 'W': 7 * day, 'D': day}
	timeUnits := map[byte]float64{'H': float64(time.Hour), 'M': float64(time.Minute), 'S': float64(time.Second)}
	units := dateUnits
	var total float64
	seen, inTime := false, false
	for len(s) > 0 {
		if s[0] == 'T' {
			if inTime || len(s) == 1 {
				return 0, fmt.Errorf("%q is not an ISO 8601 duration", orig)
			}
			units, inTime, s = timeUnits, true, s[1:]
			continue
		}
		i := 0
		for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.' || s[i] == ',') {
			i++
		}
		if i == 0 || i == len(s) {
			return 0, fmt.Errorf("%q is not an ISO 8601 duration", orig)
		}
		n, err := strconv.ParseFloat(strings.ReplaceAll(s[:i], ",", "."), 64)
		if err != nil {
			return 0, fmt.Errorf("%q is not an ISO 8601 duration", orig)
		}
		unit, ok := units[s[i]]
		if !ok {
			return 0, fmt.Errorf("%q is not an ISO 8601 duration: unit %q", orig, s[i])
		}
		delete(units, s[i]) // each unit at most once
		total += n * unit
		seen = true
		s = s[i+1:]
	}
	if !seen || math.IsNaN(total) || total > float64(maxTimeSaved) {
		return 0, fmt.Errorf("%q is not an ISO 8601 duration of at most a year", orig)
	}
	return time.Duration(total).Round(time.Second), nil
}
