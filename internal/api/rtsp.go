package api

import (
	"errors"

	"github.com/gofiber/fiber/v2"

	"github.com/streamrec/streamrec/internal/rtsp"
)

// RegisterRTSP mounts the WCS RTSP camera methods: /rest-api/rtsp/startup, /rtsp/terminate and
// /rtsp/find_all. Call it before Register, whose catch-all answers unknown /rest-api methods.
func RegisterRTSP(app fiber.Router, cams *rtsp.Manager) {
	h := &rtspAPI{cams: cams}
	app.Post("/rest-api/rtsp/startup", h.startup)
	app.Post("/rest-api/rtsp/terminate", h.terminate)
	for _, m := range []string{fiber.MethodGet, fiber.MethodPost} {
		app.Add(m, "/rest-api/rtsp/find_all", h.findAll)
	}
}

type rtspAPI struct{ cams *rtsp.Manager }

type rtspBody struct {
	URI             string `json:"uri"`
	LocalStreamName string `json:"localStreamName"`
	Transport       string `json:"transport"` // ours: "tcp", "udp" or "auto" (the default)
}

// startup adds a camera: 200 with the camera, 400 for a bad URI, 409 when it is already added,
// 403 when max_rtsp_cameras are pulled.
func (h *rtspAPI) startup(c *fiber.Ctx) error {
	var b rtspBody
	if err := bind(c, &b, false); err != nil {
		return Error(c, fiber.StatusBadRequest, err.Error())
	}
	if b.URI == "" {
		return Error(c, fiber.StatusBadRequest, `"uri" is required`)
	}
	cam, err := h.cams.Add(rtsp.Spec{URI: b.URI, Name: b.LocalStreamName, Transport: b.Transport})
	switch {
	case errors.Is(err, rtsp.ErrExists):
		return Error(c, fiber.StatusConflict, err.Error())
	case errors.Is(err, rtsp.ErrTooMany):
		return Error(c, fiber.StatusForbidden, err.Error())
	case errors.Is(err, rtsp.ErrSave):
		return Error(c, fiber.StatusInternalServerError, err.Error())
	case err != nil: // a bad URI, name or transport
		return Error(c, fiber.StatusBadRequest, err.Error())
	}
	return c.JSON(cam)
}

// terminate stops a camera given by "uri" or "localStreamName": 200, or 404 when there is none.
func (h *rtspAPI) terminate(c *fiber.Ctx) error {
	var b rtspBody
	if err := bind(c, &b, false); err != nil {
		return Error(c, fiber.StatusBadRequest, err.Error())
	}
	if b.URI == "" && b.LocalStreamName == "" {
		return Error(c, fiber.StatusBadRequest, `give "uri" or "localStreamName"`)
	}
	cam, err := h.cams.Remove(b.URI, b.LocalStreamName)
	switch {
	case errors.Is(err, rtsp.ErrNoCamera):
		return Error(c, fiber.StatusNotFound, err.Error())
	case err != nil:
		return Error(c, fiber.StatusInternalServerError, err.Error())
	}
	return c.JSON(cam)
}

// findAll lists the cameras with their status.
func (h *rtspAPI) findAll(c *fiber.Ctx) error {
	return c.JSON(h.cams.List())
}
