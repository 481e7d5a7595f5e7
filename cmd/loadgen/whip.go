package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

var whipClient = &http.Client{Timeout: 30 * time.Second}

// negotiateWHIP publishes over WHIP (RFC 9725): the offer is POSTed to TARGET/NAME
// (-target http://HOST:PORT/whip), the resource in Location is DELETEd to unpublish. The
// record flag is the POST's ?record=false; WHIP_TOKEN in the environment is the bearer token.
func negotiateWHIP(ctx context.Context, w *webrtcSource, name, offer string, _ *streamStats) (string, func() error, error) {
	endpoint := strings.TrimSuffix(w.target, "/") + "/" + url.PathEscape(name)
	if !w.record {
		endpoint += "?record=false"
	}
	resp, body, err := whipDo(ctx, http.MethodPost, endpoint, offer)
	if err != nil {
		return "", nil, err
	}
	if resp.StatusCode != http.StatusCreated {
		return "", nil, fmt.Errorf("WHIP POST: %s: %s", resp.Status, strings.TrimSpace(body))
	}
	loc, err := resp.Location()
	if err != nil {
		return "", nil, fmt.Errorf("WHIP POST: %w", err)
	}
	return body, func() error {
		// The DELETE answers once the recording is finished.
		resp, body, err := whipDo(context.Background(), http.MethodDelete, loc.String(), "")
		if err == nil && resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("WHIP DELETE: %s: %s", resp.Status, strings.TrimSpace(body))
		}
		return err
	}, nil
}

func whipDo(ctx context.Context, method, u, body string) (*http.Response, string, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, strings.NewReader(body))
	if err != nil {
		return nil, "", err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/sdp")
	}
	if tok := envToken(); tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := whipClient.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp, string(b), err
}

// envToken is WHIP_TOKEN: a token on the command line would show in ps.
func envToken() string { return os.Getenv("WHIP_TOKEN") }
