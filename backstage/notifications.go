package backstage

import (
	"context"
	"net/http"

	"github.com/paved-dev/paved/approval"
)

// NotificationsClient sends notifications through Backstage's notifications
// backend (@backstage/plugin-notifications-backend) as a backend plugin
// does (notifications-node's DefaultNotificationService): POST to the
// plugin's base URL with paved's plugin token for "notifications"; the
// backend accepts service principals only and resolves group recipients to
// their member users through the catalog.
type NotificationsClient struct {
	api pluginAPI
}

var _ approval.Notifier = (*NotificationsClient)(nil)

// NewNotificationsClient returns a client of the notifications plugin found
// through d.
func NewNotificationsClient(d *Discovery, tokens TokenSource, client *http.Client) *NotificationsClient {
	return &NotificationsClient{api: newPluginAPI("notifications", d, tokens, client)}
}

type notificationRequest struct {
	Recipients notificationRecipients `json:"recipients"`
	Payload    notificationPayload    `json:"payload"`
}

type notificationRecipients struct {
	Type             string   `json:"type"`
	EntityRef        []string `json:"entityRef"`
	ExcludeEntityRef []string `json:"excludeEntityRef,omitempty"`
}

type notificationPayload struct {
	Title       string `json:"title"`
	Description string `json:"description,omitempty"`
	Link        string `json:"link,omitempty"`
	Severity    string `json:"severity,omitempty"`
	Topic       string `json:"topic,omitempty"`
}

// Notify sends n to its recipients (users, or the users of groups).
func (c *NotificationsClient) Notify(ctx context.Context, n approval.Notification) error {
	req := notificationRequest{
		Recipients: notificationRecipients{Type: "entity", EntityRef: n.Recipients, ExcludeEntityRef: n.Exclude},
		Payload:    notificationPayload{Title: n.Title, Description: n.Description, Link: n.Link, Severity: n.Severity, Topic: n.Topic},
	}
	return c.api.post(ctx, "/", req, nil)
}
