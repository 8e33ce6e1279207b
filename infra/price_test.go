package infra_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/paved-dev/paved/infra"
)

const pricedKind = `
name: db
title: Database
owner: group:default/platform
driver: check
parameters:
  type: object
  properties:
    size: {type: string, enum: [small, large], default: small}
    storageGB: {type: integer, description: Disk size., default: 10}
    backups: {type: boolean, default: false}
price:
  currency: USD
  monthly: 5
  options:
    size: {small: 30, large: 480}
    backups: {"true": 12.5, "false": 0}
  perUnit:
    storageGB: 0.1
`

func TestPricedKind(t *testing.T) {
	k, err := infra.ParseKind([]byte(pricedKind), map[string]infra.Driver{"check": checkOnly{}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		params map[string]any
		want   float64
	}{
		{map[string]any{"size": "small", "storageGB": 10, "backups": false}, 5 + 30 + 1},
		{map[string]any{"size": "large", "storageGB": json.Number("100"), "backups": true}, 5 + 480 + 10 + 12.5},
		{map[string]any{"size": "large", "storageGB": 0.333}, 5 + 480 + 0.03},
	} {
		c, ok := k.MonthlyCost(tt.params)
		if !ok || c.Monthly != tt.want || c.Currency != "USD" {
			t.Errorf("MonthlyCost(%v) = %+v %v, want %v USD", tt.params, c, ok, tt.want)
		}
	}
	props := k.Parameters["properties"].(map[string]any)
	names, _ := props["size"].(map[string]any)["enumNames"].([]any)
	if len(names) != 2 || names[0] != "small — +30 USD/month" || names[1] != "large — +480 USD/month" {
		t.Errorf("size enumNames = %v", names)
	}
	if d := props["storageGB"].(map[string]any)["description"]; d != "Disk size. (0.1 USD/month per unit)" {
		t.Errorf("storageGB description = %q", d)
	}
	if d := props["backups"].(map[string]any)["description"]; d != "+12.5 USD/month when on" {
		t.Errorf("backups description = %q", d)
	}
	if got := (infra.Cost{Monthly: 480, Currency: "USD"}).String(); got != "480 USD/month" {
		t.Errorf("Cost.String = %q", got)
	}
}

func TestPriceOfOneChoiceIsTheWholePrice(t *testing.T) {
	k, err := infra.ParseKind([]byte(`
name: db
title: Database
owner: group:default/platform
driver: check
parameters: {type: object, properties: {size: {type: string, enum: [small, large]}}}
price: {currency: EUR, monthly: 10, options: {size: {small: 20, large: 470}}}
`), map[string]infra.Driver{"check": checkOnly{}})
	if err != nil {
		t.Fatal(err)
	}
	names := k.Parameters["properties"].(map[string]any)["size"].(map[string]any)["enumNames"].([]any)
	if names[1] != "large — 480 EUR/month" {
		t.Errorf("enumNames = %v", names)
	}
	if _, ok := (infra.Kind{}).MonthlyCost(nil); ok {
		t.Error("a kind without price has a cost")
	}
}

func TestBadPricesAreRefusedAtLoad(t *testing.T) {
	_, err := infra.ParseKind([]byte(`
name: db
title: Database
owner: group:default/platform
driver: check
parameters: {type: object, properties: {size: {type: string, enum: [small, large]}, note: {type: string}}}
price:
  currency: dollars
  monthly: -1
  options: {size: {small: 20, huge: 1}, note: {a: 1}}
  perUnit: {note: 1}
`), map[string]infra.Driver{"check": checkOnly{}})
	if err == nil {
		t.Fatal("a broken price was accepted")
	}
	for _, want := range []string{"price.currency", "price.monthly", `no price for "large"`, `price.options.size.huge`,
		"price.options.note", "price.perUnit.note"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
}
