// Package records owns the records folder: its layout, and every file operation on it.
//
// The folder holds, side by side:
//
//	NAME.mp4, NAME.webm            recordings: finished, or still being written
//	.streamrec-writing/NAME.json   the journal: one entry per file being written (JournalDir)
//	.streamrec-library.jsonl       the index: what the recorder knew of each finished file (IndexName)
//	.streamrec-thumbs/NAME.jpg     the library's thumbnails (ThumbDir): saved by SaveThumb, removed
//	                               with their recording (Delete, or the listing after it left)
//
// A recording's name is one path element, not hidden, with a known extension (IsRecording).
// Hidden names are the store's own bookkeeping: never listed, served or deleted. Anything else
// a user puts there (notes, sub-folders, symlinks) is not a recording and is left alone.
//
// Who touches the folder: only a Store. The recorder creates, renames and removes its parts
// through it and says which files it is writing (Begin, End); the download route and the
// dashboard's library resolve, list and delete through it; the server hands it every finished
// file (Finished), which indexes it and tells the OnFinished listeners (the finish hook; the
// retention cleaner, which also lists and deletes through the store; later object storage). At start, Recover
// finishes the files a crash left open. Names from clients go through Resolve, which refuses
// anything that is not a finished recording directly inside the folder; no name reaches a shell.
package records
