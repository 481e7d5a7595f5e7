// Package rtp rebuilds media frames from RTP packets, for both RTP ingests (WebRTC and RTSP).
//
// It holds the depacketizers (Depacketizer, made by For, NewH264, NewVP8, NewPackets, NewAAC,
// NewLATM):
//   - H.264, RFC 6184 packetization modes 0 and 1 (single NAL unit, STAP-A, FU-A), into AVC
//     samples with the SPS/PPS they carry; a whole Annex B stream in one NAL unit packet, as
//     some cameras send it, is split at its start codes;
//   - VP8, RFC 7741;
//   - one frame a packet: Opus (RFC 7587), G.711 (RFC 3551);
//   - AAC as MPEG4-GENERIC (RFC 3640, AU headers, one AU fragmented over packets) and as
//     MP4A-LATM (RFC 6416, out-of-band configuration only);
//
// and the reorder buffer (Jitter) that puts packets in sequence order, waits a bounded time
// for missing ones and says where it gave some up, and Sequence, which tells losses in packets
// that arrive in order already (RTSP: TCP, or UDP reordered by gortsplib).
//
// Losses: a frame with a missing, malformed or oversized packet is never returned; Push reports
// the loss instead. For video the caller then skips to the next keyframe (WebRTC also asks for
// one with PLI, RTSP just waits).
//
// Limits, so hostile input never grows memory without end: a video frame at most
// Options.MaxFrameBytes (MaxFrameBytes, 8 MB, unless less is asked: RTSP keeps the 2 MB a VP8
// frame it always had), an H.264 access unit at most Options.MaxNALUs NAL units if set (RTSP:
// 25), an AAC access unit reassembled from fragments at most 5 KB, a LATM AudioMuxElement at
// most 16 KB and 64 frames; the reorder buffer holds at most JitterRing packets. Not supported:
// H.264 interleaved mode (STAP-B, MTAP, FU-B), LATM with in-band configuration, AAC
// interleaving (an AU-Index other than 0).
package rtp
