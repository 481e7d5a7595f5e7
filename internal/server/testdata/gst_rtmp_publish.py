#!/usr/bin/python3
"""Publishes 4 s of test video (H.264 320x240 25 fps) and tone (AAC 44.1 kHz) over RTMP with one
of GStreamer's RTMP clients: rtmp2sink (GStreamer's own) or rtmpsink (librtmp, OBS's library).
Usage: gst_rtmp_publish.py SINK URL. Exits 0 at the end of the stream, 1 on an error."""
import sys
import gi
gi.require_version("Gst", "1.0")
from gi.repository import Gst

Gst.init(None)
sink, url = sys.argv[1], sys.argv[2]
pipeline = Gst.parse_launch(
    "videotestsrc is-live=true num-buffers=100 pattern=ball ! video/x-raw,width=320,height=240,framerate=25/1 "
    "! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=25 ! h264parse ! queue ! flvmux name=m streamable=true "
    f"! {sink} location={url} "
    "audiotestsrc is-live=true samplesperbuffer=1024 num-buffers=172 ! audio/x-raw,rate=44100,channels=2 "
    "! avenc_aac ! aacparse ! queue ! m.")
pipeline.set_state(Gst.State.PLAYING)
msg = pipeline.get_bus().timed_pop_filtered(30 * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR)
pipeline.set_state(Gst.State.NULL)
if msg is None or msg.type == Gst.MessageType.ERROR:
    print("error:", msg.parse_error() if msg else "timeout", file=sys.stderr)
    sys.exit(1)
