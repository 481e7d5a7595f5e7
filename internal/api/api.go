// Package api is the WCS-compatible REST API under /rest-api: find streams, record them on
// demand, terminate them. Bodies and statuses follow the WCS REST API, so existing clients work.
package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"

	"github.com/streamrec/streamrec/internal/control"
	"github.com/streamrec/streamrec/internal/recorder"
	"github.com/streamrec/streamrec/internal/recording"
	"github.com/streamrec/streamrec/internal/stream"
	"github.com/streamrec/streamrec/internal/wcs"
)

// API serves /rest-api.
type API struct {
	ctl *control.Service
}

// Register mounts the REST API on app.
func Register(app fiber.Router, ctl *control.Service) {
	a := &API{ctl: ctl}
	r := app.Group("/rest-api")
	r.Post("/stream/startRecording", a.startRecording)
	r.Post("/recorder/startup", a.startRecording)
	r.Post("/stream/stopRecording", a.stopRecording)
	r.Post("/recorder/terminate", a.stopRecording)
	r.Post("/stream/terminate", a.terminate)
	// The SDK's REST helper uses GET when there is no body: accept both for find*.
	for _, m := range []string{fiber.MethodGet, fiber.MethodPost} {
		r.Add(m, "/recorder/find_all", a.recorderFindAll)
		r.Add(m, "/stream/find_all", a.findAll)
		r.Add(m, "/stream/find", a.find)
	}
	r.Use(func(c *fiber.Ctx) error {
		return Error(c, fiber.StatusNotFound, "no such REST method: "+c.Method()+" "+c.Path())
	})
}

// Library lists the recordings for GET /rest-api/records (a streamrec extension: WCS has no
// such call): base is the server's URL as the client called it, refresh asks for a fresh look
// at the bucket.
type Library func(base string, refresh bool) (any, error)

// RegisterRecords mounts GET /rest-api/records; call it before Register, whose catch-all ends
// /rest-api. Guard applies to it as to every REST call (token, origins).
func RegisterRecords(app fiber.Router, list Library) {
	app.Get("/rest-api/records", func(c *fiber.Ctx) error {
		body, err := list(c.BaseURL(), c.QueryBool("refresh"))
		if err != nil {
			return Error(c, fiber.StatusInternalServerError, err.Error())
		}
		return c.JSON(body)
	})
}

// Error answers with a JSON error: {"status":404,"error":"Not Found","message":"..."}.
func Error(c *fiber.Ctx, status int, message string) error {
	return c.Status(status).JSON(fiber.Map{
		"status":  status,
		"error":   utils.StatusMessage(status),
		"message": message,
	})
}

// fail answers with the JSON error of err, its status decided by control.HTTPStatus.
func fail(c *fiber.Ctx, err error) error {
	return Error(c, control.HTTPStatus(err), err.Error())
}

// bind decodes a JSON body into v. An empty body is allowed when emptyOK (find* methods).
func bind(c *fiber.Ctx, v any, emptyOK bool) error {
	body := c.Body()
	if len(strings.TrimSpace(string(body))) == 0 {
		if emptyOK {
			return nil
		}
		return errors.New("the request needs a JSON body")
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("malformed JSON: %v", err)
	}
	return nil
}

type sessionBody struct {
	MediaSessionID string `json:"mediaSessionId"`
	FileName       string `json:"fileName"`
	Room           bool   `json:"room"` // a conference stream: never rotated
	Config         *struct {
		FileTemplate string          `json:"fileTemplate"`
		Rotation     json.RawMessage `json:"rotation"`
	} `json:"config"`
}

// lookup decodes a body naming a mediaSessionId and finds its stream, answering the errors itself.
func (a *API) lookup(c *fiber.Ctx, body *sessionBody) (*stream.Stream, error) {
	if err := bind(c, body, false); err != nil {
		return nil, fail(c, control.Invalid(err))
	}
	s, err := a.ctl.Find(body.MediaSessionID)
	if err != nil {
		return nil, fail(c, err)
	}
	return s, nil
}

func (a *API) startRecording(c *fiber.Ctx) error {
	var body sessionBody
	s, err := a.lookup(c, &body)
	if s == nil {
		return err
	}
	opts, err := recordOptions(body)
	if err != nil {
		return fail(c, control.Invalid(err))
	}
	if err := a.ctl.StartRecording(s, opts); err != nil {
		return fail(c, err)
	}
	return c.JSON(wcs.StreamOf(s.Snapshot()))
}

// recordOptions reads the optional fileName and config of startRecording.
func recordOptions(b sessionBody) (recording.Options, error) {
	o := recording.Options{FileName: b.FileName, Room: b.Room}
	if b.Config == nil {
		return o, nil
	}
	o.Template = b.Config.FileTemplate
	if len(b.Config.Rotation) > 0 {
		r, err := parseRotation(b.Config.Rotation)
		if err != nil {
			return o, err
		}
		o.Rotation = r
	}
	return o, nil
}

// parseRotation accepts "20" or 20 (seconds), "10M" (megabytes), "0"/"" (off).
func parseRotation(raw json.RawMessage) (*recorder.Rotation, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		var n int
		if err := json.Unmarshal(raw, &n); err != nil {
			return nil, errors.New(`"config.rotation" must be seconds ("20") or megabytes ("10M")`)
		}
		s = strconv.Itoa(n)
	}
	s = strings.TrimSpace(s)
	r := &recorder.Rotation{}
	if s == "" || s == "0" {
		return r, nil
	}
	mb := strings.HasSuffix(strings.ToUpper(s), "M")
	n, err := strconv.Atoi(strings.TrimSuffix(strings.ToUpper(s), "M"))
	if err != nil || n <= 0 {
		return nil, fmt.Errorf(`"config.rotation" %q must be seconds ("20") or megabytes ("10M")`, s)
	}
	if mb {
		r.Bytes = int64(n) << 20
	} else {
		r.Seconds = n
	}
	return r, nil
}

func (a *API) stopRecording(c *fiber.Ctx) error {
	var body sessionBody
	s, err := a.lookup(c, &body)
	if s == nil {
		return err
	}
	names, err := a.ctl.StopRecording(s)
	if errors.Is(err, recording.ErrNotRecording) {
		return fail(c, err)
	}
	if err != nil {
		// The files are complete up to the failure; say what went wrong.
		status := control.HTTPStatus(err)
		return c.Status(status).JSON(fiber.Map{
			"status": status, "error": utils.StatusMessage(status), "message": err.Error(), "files": names,
		})
	}
	return c.JSON(fiber.Map{"mediaSessionId": body.MediaSessionID, "files": names})
}

func (a *API) terminate(c *fiber.Ctx) error {
	var body sessionBody
	s, err := a.lookup(c, &body)
	if s == nil {
		return err
	}
	a.ctl.Terminate(s)
	return c.JSON(wcs.StreamOf(s.Snapshot()))
}

type recorderEntry struct {
	FileName       string `json:"fileName"`
	MediaSessionID string `json:"mediaSessionId"`
}

// recorderFindAll lists the recordings in progress.
func (a *API) recorderFindAll(c *fiber.Ctx) error {
	out := []recorderEntry{}
	for _, s := range a.streams() {
		if s.Recording {
			out = append(out, recorderEntry{FileName: s.RecordName, MediaSessionID: s.MediaSessionID})
		}
	}
	return c.JSON(out)
}

// streams returns every stream as a WCS stream object, ordered by name.
func (a *API) streams() []wcs.Stream { return wcs.Streams(a.ctl.Streams()) }

func (a *API) findAll(c *fiber.Ctx) error {
	return c.JSON(a.streams())
}

// find filters streams by the fields given; 404 when none matches.
func (a *API) find(c *fiber.Ctx) error {
	var q struct {
		Name           *string `json:"name"`
		MediaSessionID *string `json:"mediaSessionId"`
		Published      *bool   `json:"published"`
		Status         *string `json:"status"`
	}
	if err := bind(c, &q, true); err != nil {
		return fail(c, control.Invalid(err))
	}
	out := []wcs.Stream{}
	for _, s := range a.streams() {
		if (q.Name == nil || *q.Name == s.Name) &&
			(q.MediaSessionID == nil || *q.MediaSessionID == s.MediaSessionID) &&
			(q.Published == nil || *q.Published == s.Published) &&
			(q.Status == nil || *q.Status == s.Status) {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return Error(c, fiber.StatusNotFound, "no stream matches")
	}
	return c.JSON(out)
}
