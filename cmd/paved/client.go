package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/paved-dev/paved/config"
)

// client talks to a running paved as the CLI user.
type client struct {
	base  string // http://host:port/api/<pluginId>
	token string
	http  *http.Client
}

func newClient(args []string, name string, getenv func(string) string, extra func(*flagSet)) (*client, []string, error) {
	fs := newFlags(name)
	urlFlag := fs.String("url", "", "paved's base URL, e.g. http://127.0.0.1:7010 (default $PAVED_URL or the configured listen address)")
	tokenFlag := fs.String("token", "", "bearer token (default $PAVED_TOKEN or the local token file)")
	cfgFlag := fs.String("config", "", "configuration file (default $PAVED_CONFIG)")
	if extra != nil {
		extra(&flagSet{fs})
	}
	if err := parseFlags(fs, args); err != nil {
		return nil, nil, err
	}
	cfg, err := config.Load(*cfgFlag, getenv)
	if err != nil {
		return nil, nil, err
	}
	base := firstNonEmpty(*urlFlag, getenv("PAVED_URL"), "http://"+cfg.Listen)
	token := firstNonEmpty(*tokenFlag, getenv("PAVED_TOKEN"))
	if token == "" && cfg.Auth.LocalTokenFile != "" && cfg.Auth.LocalTokenFile != "-" {
		if b, err := os.ReadFile(cfg.Auth.LocalTokenFile); err == nil {
			token = strings.TrimSpace(string(b))
		}
	}
	if token == "" {
		return nil, nil, fmt.Errorf("no token: pass --token, set PAVED_TOKEN, or start paved once so it writes %s", cfg.Auth.LocalTokenFile)
	}
	return &client{base: strings.TrimRight(base, "/") + "/api/" + cfg.PluginID, token: token, http: &http.Client{Timeout: 35 * time.Minute}}, fs.Args(), nil
}

type flagSet struct{ *flag.FlagSet }

func firstNonEmpty(v ...string) string {
	for _, s := range v {
		if s != "" {
			return s
		}
	}
	return ""
}

func (c *client) do(ctx context.Context, method, path string, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("cannot reach paved at %s: %w", c.base, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		var e struct {
			Error struct{ Name, Message string } `json:"error"`
		}
		if json.Unmarshal(raw, &e) == nil && e.Error.Name != "" {
			return fmt.Errorf("%d %s: %s", resp.StatusCode, e.Error.Name, e.Error.Message)
		}
		return fmt.Errorf("%d: %s", resp.StatusCode, strings.TrimSpace(string(raw)))
	}
	return json.Unmarshal(raw, out)
}

func cmdActionsList(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	var asJSON *bool
	c, _, err := newClient(args, "actions list", getenv, func(fs *flagSet) { asJSON = fs.Bool("json", false, "print the raw JSON") })
	if err != nil {
		return err
	}
	var list struct {
		Actions []struct {
			ID, Title  string
			Attributes struct{ ReadOnly, Destructive, Idempotent bool }
		} `json:"actions"`
	}
	var raw json.RawMessage
	if err := c.do(ctx, http.MethodGet, "/.backstage/actions/v1/actions", nil, &raw); err != nil {
		return err
	}
	if *asJSON {
		_, err := stdout.Write(append(raw, '\n'))
		return err
	}
	if err := json.Unmarshal(raw, &list); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTITLE\tATTRIBUTES")
	for _, a := range list.Actions {
		var attrs []string
		if a.Attributes.ReadOnly {
			attrs = append(attrs, "readOnly")
		}
		if a.Attributes.Destructive {
			attrs = append(attrs, "destructive")
		}
		if a.Attributes.Idempotent {
			attrs = append(attrs, "idempotent")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", a.ID, a.Title, strings.Join(attrs, ","))
	}
	return tw.Flush()
}

func cmdActionsInvoke(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout io.Writer) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return usageError{"usage: paved actions invoke ID --input FILE|-"}
	}
	id := args[0]
	var input *string
	c, _, err := newClient(args[1:], "actions invoke", getenv, func(fs *flagSet) {
		input = fs.String("input", "", "file holding the input JSON object, or - for standard input")
	})
	if err != nil {
		return err
	}
	var body []byte
	switch *input {
	case "":
		body = []byte("{}")
	case "-":
		body, err = io.ReadAll(stdin)
	default:
		body, err = os.ReadFile(*input)
	}
	if err != nil {
		return err
	}
	if !strings.Contains(id, ":") {
		id = "paved:" + id
	}
	var out json.RawMessage
	if err := c.do(ctx, http.MethodPost, "/.backstage/actions/v1/actions/"+url.PathEscape(id)+"/invoke", body, &out); err != nil {
		return err
	}
	var pretty bytes.Buffer
	if json.Indent(&pretty, out, "", "  ") != nil {
		pretty.Write(out)
	}
	pretty.WriteByte('\n')
	_, err = stdout.Write(pretty.Bytes())
	return err
}

func cmdInvocations(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	var action *string
	var limit *int
	c, _, err := newClient(args, "invocations", getenv, func(fs *flagSet) {
		action = fs.String("action", "", "only this action id")
		limit = fs.Int("limit", 50, "how many, newest first")
	})
	if err != nil {
		return err
	}
	q := url.Values{}
	if *action != "" {
		q.Set("action", *action)
	}
	q.Set("limit", fmt.Sprint(*limit))
	var res struct {
		Items []struct {
			ActionID, CallerPlugin, UserRef, Status, Error string
			StartedAt                                      time.Time
			DurationMs                                     int64
		} `json:"items"`
	}
	if err := c.do(ctx, http.MethodGet, "/invocations?"+q.Encode(), nil, &res); err != nil {
		return err
	}
	sort.SliceStable(res.Items, func(i, j int) bool { return res.Items[i].StartedAt.After(res.Items[j].StartedAt) })
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STARTED\tACTION\tCALLER\tUSER\tSTATUS\tERROR")
	for _, i := range res.Items {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", i.StartedAt.Format(time.RFC3339), i.ActionID, i.CallerPlugin, i.UserRef, i.Status, i.Error)
	}
	return tw.Flush()
}

func cmdKeysRotate(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	c, _, err := newClient(args, "keys rotate", getenv, nil)
	if err != nil {
		return err
	}
	var res struct{ KID string }
	if err := c.do(ctx, http.MethodPost, "/admin/keys/rotate", nil, &res); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "new signing key %s; the previous key stays published until its tokens expire\n", res.KID)
	return nil
}
