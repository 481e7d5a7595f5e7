#!/usr/bin/python3
"""A test IP camera: GStreamer's RTSP server (gst-rtsp-server, Debian's
gir1.2-gst-rtsp-server-1.0) serving live test streams, for streamrec's RTSP tests.

    camera.py --port 8554 [--fps 25] [--user U --password P [--digest]] [--stall-after N --stall-for M]

Mount points (each a live 320x240 test picture, keyframe every second):
    /h264aac    H.264 + AAC (MPEG4-GENERIC, 48 kHz mono)
    /h264latm   H.264 + AAC (MP4A-LATM, 44.1 kHz stereo)
    /h264pcma   H.264 + G.711 A-law (8 kHz)
    /h264pcmu   H.264 + G.711 mu-law (8 kHz)
    /h264       H.264, no audio
    /h264nosps  H.264 whose SDP carries no sprop-parameter-sets (SPS/PPS in-band only)
    /h264tcp    H.264 + AAC, RTP over TCP only (SETUP with UDP is answered 461)
    /vp8        VP8 + G.711 A-law
    /h265       H.265 + AAC
    /mjpeg      Motion JPEG
Prints "ready" on stdout once listening.

--stall-after N --stall-for M: N seconds after the first media packet of the process, every
mount stops sending RTP for M seconds, once, as a camera whose encoder hangs: its RTSP sessions,
RTCP reports and keep-alive answers go on (the packets are dropped at the payloaders' output,
before the RTP session; "stall" and "resume" are written to stderr).
"""
import argparse
import sys
import time

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402


def video(fps, enc, pay):
    return (
        f"videotestsrc is-live=true pattern=ball ! video/x-raw,width=320,height=240,framerate={fps}/1 "
        f"! videoconvert ! video/x-raw,format=I420 ! {enc} ! {pay} name=pay0 pt=96"
    )


def x264(fps):
    return f"x264enc tune=zerolatency speed-preset=ultrafast key-int-max={fps} bframes=0"


def audio(caps, enc, pay):
    return f"audiotestsrc is-live=true wave=sine freq=440 ! audioconvert ! audioresample ! {caps} ! {enc} ! {pay} name=pay1"


def mounts(fps):
    aac = audio("audio/x-raw,rate=48000,channels=1", "avenc_aac", "rtpmp4gpay pt=97")
    latm = audio("audio/x-raw,rate=44100,channels=2", "avenc_aac", "rtpmp4apay pt=97")
    pcma = audio("audio/x-raw,rate=8000,channels=1", "alawenc", "rtppcmapay")
    pcmu = audio("audio/x-raw,rate=8000,channels=1", "mulawenc", "rtppcmupay")
    h264 = video(fps, x264(fps), "rtph264pay config-interval=-1")
    # rtph264pay always puts the parameter sets in its caps, hence the SDP; a capssetter named as
    # the payloader replaces those caps with ones without them: SPS/PPS only travel in-band.
    nosps = (
        f"videotestsrc is-live=true pattern=ball ! video/x-raw,width=320,height=240,framerate={fps}/1 "
        f"! videoconvert ! video/x-raw,format=I420 ! {x264(fps)} ! rtph264pay config-interval=-1 pt=96 "
        '! capssetter name=pay0 replace=true caps="application/x-rtp,media=(string)video,'
        'clock-rate=(int)90000,encoding-name=(string)H264,payload=(int)96,packetization-mode=(string)1"'
    )
    vp8 = video(fps, f"vp8enc deadline=1 keyframe-max-dist={fps}", "rtpvp8pay")
    h265 = video(fps, f"x265enc tune=zerolatency speed-preset=ultrafast key-int-max={fps}", "rtph265pay config-interval=-1")
    mjpeg = video(fps, "jpegenc", "rtpjpegpay")
    return {
        "/h264aac": f"( {h264} {aac} )",
        "/h264latm": f"( {h264} {latm} )",
        "/h264pcma": f"( {h264} {pcma} )",
        "/h264pcmu": f"( {h264} {pcmu} )",
        "/h264": f"( {h264} )",
        "/h264nosps": f"( {nosps} )",
        "/h264tcp": f"( {h264} {aac} )",
        "/vp8": f"( {vp8} {pcma} )",
        "/h265": f"( {h265} {aac} )",
        "/mjpeg": f"( {mjpeg} )",
    }


class Stall:
    """Drops the payloaders' output during one window of the process's life."""

    def __init__(self, after, length):
        self.after, self.length, self.t0, self.state = after, length, None, "before"

    def probe(self, pad, info):
        now = time.monotonic()
        if self.t0 is None:
            self.t0 = now
        dropping = self.after <= now - self.t0 < self.after + self.length
        state = "stall" if dropping else ("before" if now - self.t0 < self.after else "resume")
        if state != self.state:
            self.state = state
            print(state, flush=True, file=sys.stderr)
        return Gst.PadProbeReturn.DROP if dropping else Gst.PadProbeReturn.OK

    def configure(self, factory, media):
        bin = media.get_element()
        for name in ("pay0", "pay1"):
            pay = bin.get_by_name(name)
            if pay is not None:
                pay.get_static_pad("src").add_probe(Gst.PadProbeType.BUFFER | Gst.PadProbeType.BUFFER_LIST, self.probe)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--fps", type=int, default=25)
    ap.add_argument("--user")
    ap.add_argument("--password")
    ap.add_argument("--digest", action="store_true", help="digest authentication instead of basic")
    ap.add_argument("--stall-after", type=float, help="seconds of media before RTP stops (with --stall-for)")
    ap.add_argument("--stall-for", type=float, default=0, help="seconds without RTP, the session kept")
    args = ap.parse_args()
    stall = Stall(args.stall_after, args.stall_for) if args.stall_after is not None else None

    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))

    if args.user:
        auth = GstRtspServer.RTSPAuth()
        token = GstRtspServer.RTSPToken()
        token.set_string("media.factory.role", "user")
        if args.digest:
            auth.add_digest(args.user, args.password, token)
            auth.set_supported_methods(GstRtsp.RTSPAuthMethod.DIGEST)
        else:
            auth.add_basic(GstRtspServer.RTSPAuth.make_basic(args.user, args.password), token)
            auth.set_supported_methods(GstRtsp.RTSPAuthMethod.BASIC)
        server.set_auth(auth)

    for path, launch in mounts(args.fps).items():
        factory = GstRtspServer.RTSPMediaFactory()
        factory.set_launch(launch)
        factory.set_shared(True)
        if stall:
            factory.connect("media-configure", stall.configure)
        if path == "/h264tcp":
            factory.set_protocols(GstRtsp.RTSPLowerTrans.TCP)
        if args.user:
            role = Gst.Structure.new_from_string(
                "user, media.factory.access=(boolean)true, media.factory.construct=(boolean)true")
            factory.add_role_from_structure(role)
        server.get_mount_points().add_factory(path, factory)

    if server.attach(None) == 0:
        print("cannot listen on port", args.port, file=sys.stderr)
        sys.exit(1)
    print("ready", flush=True)
    GLib.MainLoop().run()


if __name__ == "__main__":
    main()
