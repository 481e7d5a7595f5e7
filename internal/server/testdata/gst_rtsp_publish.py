#!/usr/bin/python3
"""Publishes 4 s of test video (H.264 320x240 25 fps) and tone (AAC 44.1 kHz) over RTSP with
GStreamer's rtspclientsink, which picks its payloaders itself: for AAC that is rtpmp4apay,
MP4A-LATM (RFC 6416). Usage: gst_rtsp_publish.py URL [udp|tcp]. Exits 0 at the end of the
stream, 1 on an error."""
import sys
import gi
gi.require_version("Gst", "1.0")
from gi.repository import Gst

Gst.init(None)
url = sys.argv[1]
protocols = "udp" if len(sys.argv) > 2 and sys.argv[2] == "udp" else "tcp"
pipeline = Gst.parse_launch(
    f"rtspclientsink name=s location={url} protocols={protocols} "
    "videotestsrc is-live=true num-buffers=100 pattern=ball ! video/x-raw,width=320,height=240,framerate=25/1 "
    "! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=25 ! h264parse ! queue ! s.sink_0 "
    "audiotestsrc is-live=true samplesperbuffer=1024 num-buffers=172 ! audio/x-raw,rate=44100,channels=2 "
    "! avenc_aac ! aacparse ! queue ! s.sink_1")
pipeline.set_state(Gst.State.PLAYING)
msg = pipeline.get_bus().timed_pop_filtered(15 * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR)
# rtspclientsink now and then posts no EOS after its last buffer (seen on a loaded machine): past
# the 4 s of media the stream is over all the same, and NULL sends the TEARDOWN.
ok, pos = pipeline.query_position(Gst.Format.TIME)
pipeline.set_state(Gst.State.NULL)
if msg is None and ok and pos >= 3.9 * Gst.SECOND:
    print("no EOS from rtspclientsink; stopped after", pos / Gst.SECOND, "s", file=sys.stderr)
elif msg is None or msg.type == Gst.MessageType.ERROR:
    print("error:", msg.parse_error() if msg else "timeout", file=sys.stderr)
    sys.exit(1)
