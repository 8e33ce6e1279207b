// Package backstage is paved's adapter to Backstage: it verifies the tokens
// Backstage sends (plugin, user and static tokens), holds paved's own signing
// keys so paved can call Backstage as a plugin, and offers small clients for
// the Backstage APIs paved reads.
package backstage

import (
	"fmt"
	"regexp"
	"strings"
)

// pluginIDPattern is Backstage's own rule for plugin ids in plugin tokens
// (PluginTokenHandler's ALLOWED_PLUGIN_ID_PATTERN, case-insensitive). Since
// ids end up in URLs, nothing else may reach discovery.
var pluginIDPattern = regexp.MustCompile(`^[a-zA-Z0-9_-]+$`)

// ValidPluginID reports whether id is acceptable as a Backstage plugin id.
func ValidPluginID(id string) bool { return pluginIDPattern.MatchString(id) }

// Discovery resolves a plugin id to the base URL of its API, the way
// Backstage's discovery config does: a target pattern with a {{pluginId}}
// placeholder, and per-plugin endpoints that take precedence.
type Discovery struct {
	pattern   string
	endpoints map[string]string
}

// NewDiscovery returns a Discovery. pattern looks like
// "http://127.0.0.1:7007/api/{{pluginId}}" ("{{ pluginId }}" works too);
// endpoints maps a plugin id to its own base URL (which may use the
// placeholder as well).
func NewDiscovery(pattern string, endpoints map[string]string) *Discovery {
	d := &Discovery{pattern: normalizePattern(pattern), endpoints: make(map[string]string, len(endpoints))}
	for id, target := range endpoints {
		d.endpoints[id] = normalizePattern(target)
	}
	return d
}

var placeholder = regexp.MustCompile(`\{\{\s*pluginId\s*\}\}`)

func normalizePattern(p string) string {
	return strings.TrimRight(placeholder.ReplaceAllLiteralString(strings.TrimSpace(p), "{{pluginId}}"), "/")
}

// BaseURL returns the base URL of pluginID's API, without a trailing slash.
func (d *Discovery) BaseURL(pluginID string) (string, error) {
	if !ValidPluginID(pluginID) {
		return "", fmt.Errorf("discovery: invalid plugin id %q", pluginID)
	}
	target, ok := d.endpoints[pluginID]
	if !ok {
		target = d.pattern
	}
	if target == "" {
		return "", fmt.Errorf("discovery: no endpoint for plugin %q", pluginID)
	}
	return strings.ReplaceAll(target, "{{pluginId}}", pluginID), nil
}
