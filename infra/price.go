package infra

import (
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Price is what one resource of a kind costs per month, declared in the
// kind's YAML. It is data, never code: the monthly cost of a request is
//
//	monthly + options[p][value of p] (for each p) + perUnit[p] × value of p (for each p)
//
// so a price can follow a size or region (an enum parameter) and a quantity
// (a number parameter, such as storageGB), and nothing a developer types is
// ever evaluated.
type Price struct {
	// Currency is an ISO 4217 code: USD, EUR, …
	Currency string `yaml:"currency" json:"currency"`
	// Monthly is the base price of every resource of the kind.
	Monthly float64 `yaml:"monthly" json:"monthly,omitempty"`
	// Options prices each value of an enum parameter: size → small → 30.
	// Every value of the parameter's enum must have a price.
	Options map[string]map[string]float64 `yaml:"options" json:"options,omitempty"`
	// PerUnit prices a number or integer parameter per unit: storageGB → 0.1.
	PerUnit map[string]float64 `yaml:"perUnit" json:"perUnit,omitempty"`
}

// Cost is the monthly cost of one resource.
type Cost struct {
	Monthly  float64 `json:"monthly"`
	Currency string  `json:"currency"`
}

// String reads as "480 USD/month".
func (c Cost) String() string { return FormatMoney(c.Monthly) + " " + c.Currency + "/month" }

// FormatMoney writes an amount with at most two decimals and no trailing zeros.
func FormatMoney(v float64) string {
	return strconv.FormatFloat(RoundMoney(v), 'f', -1, 64)
}

// RoundMoney rounds to cents, so that sums agree wherever they are shown.
func RoundMoney(v float64) float64 { return math.Round(v*100) / 100 }

var currencyRE = regexp.MustCompile(`^[A-Z]{3}$`)

// maxPrice bounds every declared amount: a typo of a few zeros should stop
// paved at start, not reach a budget.
const maxPrice = 1e9

// check validates the price against the kind's parameter schema (after any
// shaping by the driver) and returns every problem.
func (p *Price) check(params map[string]any) []string {
	var bad []string
	if !currencyRE.MatchString(p.Currency) {
		bad = append(bad, fmt.Sprintf("price.currency must be an ISO 4217 code such as USD, got %q", p.Currency))
	}
	amount := func(where string, v float64) {
		if v < 0 || v > maxPrice || math.IsNaN(v) {
			bad = append(bad, fmt.Sprintf("%s must be between 0 and %g, got %g", where, float64(maxPrice), v))
		}
	}
	amount("price.monthly", p.Monthly)
	props, _ := params["properties"].(map[string]any)
	for _, name := range sortedKeys(p.Options) {
		prop, _ := props[name].(map[string]any)
		enum := choices(prop)
		if len(enum) == 0 {
			bad = append(bad, fmt.Sprintf("price.options.%s: %q is not an enum or boolean parameter of the kind", name, name))
			continue
		}
		values := map[string]bool{}
		for _, v := range enum {
			s := fmt.Sprint(v)
			values[s] = true
			if _, ok := p.Options[name][s]; !ok {
				bad = append(bad, fmt.Sprintf("price.options.%s has no price for %q", name, s))
			}
		}
		for _, opt := range sortedKeys(p.Options[name]) {
			if !values[opt] {
				bad = append(bad, fmt.Sprintf("price.options.%s.%s: %q is not a value of the parameter", name, opt, opt))
			}
			amount("price.options."+name+"."+opt, p.Options[name][opt])
		}
	}
	for _, name := range sortedKeys(p.PerUnit) {
		prop, _ := props[name].(map[string]any)
		if t, _ := prop["type"].(string); t != "number" && t != "integer" {
			bad = append(bad, fmt.Sprintf("price.perUnit.%s: %q is not a number parameter of the kind", name, name))
		}
		amount("price.perUnit."+name, p.PerUnit[name])
	}
	return bad
}

// MonthlyCost is what a resource of the kind with these parameters (defaults
// filled in) costs per month; ok is false when the kind has no price.
func (k Kind) MonthlyCost(params map[string]any) (Cost, bool) {
	p := k.Price
	if p == nil {
		return Cost{}, false
	}
	total := p.Monthly
	for name, prices := range p.Options {
		if v, set := params[name]; set {
			total += prices[fmt.Sprint(v)]
		}
	}
	for name, rate := range p.PerUnit {
		if n, ok := number(params[name]); ok && n > 0 {
			total += rate * n
		}
	}
	return Cost{Monthly: RoundMoney(total), Currency: p.Currency}, true
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case interface{ Float64() (float64, error) }: // json.Number
		f, err := n.Float64()
		return f, err == nil
	}
	return 0, false
}

// priceSchema shows the price where the developer decides: each priced enum
// value gets a title "large — 480 USD/month" (enumNames, which Backstage's
// scaffolder form shows in the select) and a priced number parameter says its
// rate in its description. The validation keywords are left alone.
func priceSchema(params map[string]any, p *Price) map[string]any {
	if p == nil {
		return params
	}
	props, _ := params["properties"].(map[string]any)
	out := make(map[string]any, len(params))
	for k, v := range params {
		out[k] = v
	}
	newProps := make(map[string]any, len(props))
	for name, v := range props {
		newProps[name] = v
	}
	for name, prices := range p.Options {
		prop, _ := props[name].(map[string]any)
		enum, _ := prop["enum"].([]any)
		if len(enum) == 0 {
			if t, _ := prop["type"].(string); t == "boolean" {
				newProps[name] = withNote(prop, "+"+Cost{Monthly: prices["true"], Currency: p.Currency}.String()+" when on")
			}
			continue
		}
		cp := make(map[string]any, len(prop)+1)
		for k, v := range prop {
			cp[k] = v
		}
		// With one priced choice the title is the whole price; with more,
		// each choice says what it adds.
		whole := len(p.Options) == 1 && len(p.PerUnit) == 0
		titles := make([]any, len(enum))
		for i, v := range enum {
			s := fmt.Sprint(v)
			c := Cost{Monthly: prices[s], Currency: p.Currency}
			if whole {
				c.Monthly = RoundMoney(p.Monthly + prices[s])
				titles[i] = s + " — " + c.String()
			} else {
				titles[i] = s + " — +" + c.String()
			}
		}
		cp["enumNames"] = titles
		newProps[name] = cp
	}
	for name, rate := range p.PerUnit {
		prop, _ := props[name].(map[string]any)
		if prop == nil {
			continue
		}
		newProps[name] = withNote(prop, FormatMoney(rate)+" "+p.Currency+"/month per unit")
	}
	out["properties"] = newProps
	return out
}

// choices are the values an option price must cover: an enum's, or true
// and false for a boolean.
func choices(prop map[string]any) []any {
	if enum, _ := prop["enum"].([]any); len(enum) > 0 {
		return enum
	}
	if t, _ := prop["type"].(string); t == "boolean" {
		return []any{true, false}
	}
	return nil
}

// withNote returns a copy of prop whose description ends with the price note.
func withNote(prop map[string]any, note string) map[string]any {
	cp := make(map[string]any, len(prop)+1)
	for k, v := range prop {
		cp[k] = v
	}
	if d, _ := prop["description"].(string); d != "" {
		note = strings.TrimRight(d, " ") + " (" + note + ")"
	}
	cp["description"] = note
	return cp
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
