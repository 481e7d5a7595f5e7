package admin

import (
	"errors"
	"runtime"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/streamrec/streamrec/internal/conf"
	"github.com/streamrec/streamrec/internal/hook"
	"github.com/streamrec/streamrec/internal/recorder"
	"github.com/streamrec/streamrec/internal/recording"
	"github.com/streamrec/streamrec/internal/retention"
	"github.com/streamrec/streamrec/internal/webhook"
)

// SettingRow is one setting as the Settings page shows it.
type SettingRow struct {
	Key     string `json:"key"`
	Value   string `json:"value"` // "" for a secret (see Set)
	Default string `json:"default"`
	Help    string `json:"help"`
	Restart bool   `json:"restart"` // takes effect after a restart
	Secret  bool   `json:"secret"`
	Set     bool   `json:"set"` // a secret has a value
	// Pending: a restart setting whose saved value differs from the one the server started with.
	Pending bool `json:"pending"`
}

func (a *Admin) settingRows() []SettingRow {
	values := a.cfg.Settings.Values()
	specs := conf.Specs()
	out := make([]SettingRow, len(specs))
	for i, sp := range specs {
		v := values[sp.Key]
		row := SettingRow{Key: sp.Key, Value: v, Default: sp.Default, Help: sp.Help, Restart: sp.Restart, Secret: sp.Secret}
		if sp.Secret {
			row.Value, row.Set = "", v != ""
		}
		row.Pending = sp.Restart && v != a.atStart[sp.Key]
		out[i] = row
	}
	return out
}

func (a *Admin) getSettings(c *fiber.Ctx) error {
	return c.JSON(fiber.Map{"settings": a.settingRows(), "file": a.cfg.Settings.Path()})
}

// putSettings saves {"values":{key:value}} through conf.Store.Update: all or nothing. Bad values
// answer 422 with {"errors":{key:reason}} and leave the file untouched. An empty value for a
// secret means "keep it".
func (a *Admin) putSettings(c *fiber.Ctx) error {
	var body struct {
		Values map[string]string `json:"values"`
	}
	if err := bind(c, &body); err != nil {
		return fail(c, fiber.StatusBadRequest, err.Error())
	}
	secret := map[string]bool{}
	for _, sp := range conf.Specs() {
		secret[sp.Key] = sp.Secret
	}
	changes := map[string]string{}
	for k, v := range body.Values {
		if secret[k] && v == "" {
			continue
		}
		changes[k] = v
	}
	oldPW := a.password()
	if err := a.cfg.Settings.Update(changes); err != nil {
		var ve *conf.ValidationError
		if errors.As(err, &ve) {
			return c.Status(fiber.StatusUnprocessableEntity).JSON(fiber.Map{
				"status": fiber.StatusUnprocessableEntity, "message": "Nothing was saved: fix the values marked.", "errors": ve.ByKey(),
			})
		}
		return fail(c, fiber.StatusInternalServerError, err.Error())
	}
	keys := make([]string, 0, len(changes))
	for k := range changes {
		keys = append(keys, k)
	}
	if pw := a.password(); pw != oldPW {
		// The new password ends every other session; this one stays logged in.
		a.sessions.rebind(c.Cookies(CookieName), hashOf(pw))
	}
	a.log.Info("settings saved from the dashboard", "keys", keys, "ip", c.IP())
	return c.JSON(fiber.Map{"settings": a.settingRows(), "file": a.cfg.Settings.Path(), "saved": keys})
}

// HookRow is a hook run with its running time in milliseconds.
type HookRow struct {
	hook.Run
	TookMs int64 `json:"tookMs"`
}

func (a *Admin) hooks(c *fiber.Ctx) error {
	runs := []HookRow{}
	if a.cfg.Hooks != nil {
		for _, r := range a.cfg.Hooks.Recent() {
			runs = append(runs, HookRow{Run: r, TookMs: r.Took.Milliseconds()})
		}
	}
	deliveries := []webhook.Delivery{}
	if a.cfg.Webhooks != nil {
		deliveries = append(deliveries, a.cfg.Webhooks.Recent()...)
	}
	st := a.cfg.Settings.Current()
	return c.JSON(fiber.Map{
		"available": a.cfg.Hooks != nil,
		"script":    st.HookScript,
		"timeout":   st.HookTimeout.Seconds(),
		"runs":      runs,
		"webhooks": fiber.Map{
			"url":        webhook.Redact(st.WebhookURL), // a token in it stays secret
			"signed":     st.WebhookSecret != "",
			"deliveries": deliveries,
		},
	})
}

// retention answers the retention settings in effect, whether new recordings are refused and
// why, and the last deletions, newest first.
func (a *Admin) retention(c *fiber.Ctx) error {
	if a.cfg.Retention == nil {
		return c.JSON(fiber.Map{"available": false, "deletions": []any{}})
	}
	st := a.cfg.Retention.Status()
	if st.Deletions == nil {
		st.Deletions = []retention.Deletion{}
	}
	return c.JSON(struct {
		Available bool `json:"available"`
		retention.Status
	}{true, st})
}

// lowDisk: free space under this share of the disk, or under lowDiskBytes, is shown as a warning.
const (
	lowDiskShare = 0.10
	lowDiskBytes = 2 << 30
)

func (a *Admin) serverInfo(c *fiber.Ctx) error {
	streams := a.cfg.Streams.Streams()
	recordings := 0
	for _, s := range streams {
		if recording.StateOf(s).Recording {
			recordings++
		}
	}
	out := fiber.Map{
		"version":          a.cfg.Version,
		"goVersion":        runtime.Version(),
		"started":          a.cfg.Started,
		"uptimeSeconds":    int64(time.Since(a.cfg.Started).Seconds()),
		"streams":          len(streams),
		"activeRecordings": recordings,
		"records":          a.cfg.Records.Dir(),
		"settingsFile":     a.cfg.Settings.Path(),
	}
	if free, total, err := recorder.DiskSpace(a.cfg.Records.Dir()); err == nil {
		out["disk"] = fiber.Map{
			"free":  free,
			"total": total,
			"low":   float64(free) < lowDiskShare*float64(total) || free < lowDiskBytes,
		}
	} else {
		out["diskError"] = err.Error()
	}
	return c.JSON(out)
}
