// Package naming decides the file name of a recording and creates the file without ever
// overwriting an existing one. It is pure code: standard library only, no exec, no shell.
// Stream names come from the network and are treated as hostile throughout.
//
// # How a name is made
//
// [Policy.Base] produces the base name (no part number, no extension) in four steps:
//
//  1. Policy. Mode "streamName" (compared case-insensitively): the name is the stream name.
//     Any other mode, including "" and "template": the name is Template with its elements
//     replaced; an empty Template means [DefaultTemplate] ("stream-{mediaSessionId}-{login}").
//  2. Exclude. Every character (rune) listed in Exclude is deleted from the produced name.
//     Invalid UTF-8 bytes in Exclude are ignored.
//  3. Encode (compared case-insensitively). "HEX": the whole name's bytes are hex-encoded,
//     lowercase. "BASE64": the whole name is encoded with the URL/file-safe alphabet
//     (RFC 4648 §5) without padding. Anything else: no encoding. Encoding applies to the
//     whole output of steps 1–2, so decoding an untruncated base gives that output back (unless
//     BASE64 output starts with '-', which step 4 turns into '_').
//  4. Sanitize, whatever Exclude and Encode said, so the result is always one safe file name:
//     '/', '\\', NUL, every control character (Unicode Cc: C0, DEL, C1) and every format
//     character (Unicode Cf: bidi overrides such as U+202E, zero-width characters) are removed;
//     each invalid UTF-8 byte becomes '_'; every leading '.' or '-' becomes '_' (so never ".",
//     "..", a hidden file, or a name a command takes for an option: "-rf" gives "_rf"); an empty result becomes [Fallback] ("stream"); the base is cut to
//     [MaxNameBytes] bytes on a UTF-8 boundary.
//
// [StreamName] is the cleaning the server applies to every stream name where it enters
// (control and format characters removed), so the file name, the hook and the REST API see
// the same name.
//
// # Template elements
//
// Element names are case-sensitive. Each value is cut to its maximum length, counted in
// characters (runes; an invalid byte counts as one), never inside a UTF-8 sequence:
//
//	{streamName}       the stream name                                   no limit (only the file limit)
//	{startTime}        start, UTC, layout 2006-01-02T15-04-05Z           20
//	{endTime}          end, same layout                                  20
//	{startTimeMillis}  start, milliseconds since the Unix epoch          20
//	{endTimeMillis}    end, milliseconds since the Unix epoch            20
//	{sessionId}        session id in URL-safe base64 without padding     60
//	{mediaSessionId}   the media session id                              36
//	{login}            the publisher's login                             32
//	{audioCodec}       the audio codec                                   4
//	{videoCodec}       the video codec                                   4
//
// Rules where the specification is silent:
//   - A value with no data is the empty string: an RTMP publisher has no login, so the default
//     template gives "stream-<mediaSessionId>-". A zero time (End while recording) is empty too,
//     both for the layout and the milliseconds forms.
//   - Unknown elements ("{foo}"), unmatched braces and wrong case ("{Login}") stay in the name
//     literally; settings validation is where they are rejected.
//   - Substitution is a single pass: a value that itself contains "{login}" is not expanded.
//   - The time layout contains no colons, so it needs no Exclude to be a valid file name.
//
// # File names, parts and the 255-byte limit
//
// [FileName] gives base[-part].ext; part 0 (or negative) means no number. Linux limits a file
// name to 255 bytes: the whole name, part number, extension and any clash suffix included, is
// at most [MaxNameBytes] bytes. The base is shortened to make room, on a UTF-8 boundary; the
// part number and extension are never cut (only an absurd extension of more than 254 bytes,
// which no recorder uses, is itself cut). ext may be given with or without its leading dot.
//
// When rotation is on the part number is always appended, even when the template has a time
// element ([HasTime]): the layout has one-second resolution and size-based rotation can close
// two parts within the same second, so a time never replaces the number. [HasTime] only tells
// whether a name depends on the clock. [HasEndTime] tells whether the name can only be known at
// the end: the recorder then writes under the name with an empty end time and, once the file is
// complete, moves it with [Rename]. Both look at a template string: only call them with
// Policy.Template when the policy's mode is the template mode.
//
// # Creating files: never overwrite
//
// [Create], [CreatePart] and [Rename] never replace an existing file. A file is created with
// O_CREATE|O_EXCL|O_WRONLY, mode 0644 (before umask); on a clash ("already exists", which
// includes a symbolic link, even a dangling one, at that name) the next candidate gets a suffix
// "_2", "_3", ... and the base is shortened so the name still fits 255 bytes.
//
//   - [CreatePart] knows the structure, so the suffix goes before the part number:
//     "cam_2-1.mp4". It returns the base it used; pass that base for the following parts so
//     all parts of one recording share it.
//   - [Create] takes a finished name and treats it as opaque: the suffix goes before the
//     extension (the text from the last '.', up to 32 bytes), so "cam-1.mp4" becomes
//     "cam-1_2.mp4". It cannot tell a part number from a stream name ending in "-1", so it
//     does not guess.
//
// Defence in depth: a name that is not already a safe single name (empty, ".", "..", leading
// '.' or '-', '/', '\\', NUL, control or format characters, invalid UTF-8) is refused with an error, and so is
// any candidate whose path does not resolve directly inside dir.
package naming
