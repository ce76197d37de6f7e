// Package structuredlog writes Omniverse structured log files and provides the
// header primitives a tailer needs to read them and record its progress.
//
// # File layout
//
// A structured log is a text file of JSON lines. The first line is the header;
// every later line is one event. Several processes may append to one file.
//
// # Header
//
// The header is a JSON object padded with spaces so that the whole line,
// including its trailing '\n', is exactly [HeaderSize] (256) bytes:
//
//	{"source":"omni.structuredlog","version":"1.0","time":"2025-03-04T05:06:07.123456+00:00"}<spaces>\n
//
// time is the file's creation time (UTC, microseconds, "+00:00" offset); a
// reader uses it together with the file's (device, inode) to tell a new file
// from a rotated one. A reader accepts any header line length up to 64 KiB
// (files written by other implementations may differ), requires
// source == "omni.structuredlog" and version == "1.0".
//
// A reader records progress with [WriteSeekTag], which adds or updates a member
// "<name>":<offset> (offset in bytes from the start of the file) in place: the
// object is re-serialized with its members in their original order (an
// existing tag keeps its position, a new one is appended) and re-padded with
// spaces, so the line keeps its exact length and nothing past the first '\n'
// is ever written. When the padding is exhausted it returns [ErrHeaderFull]
// and leaves the file unchanged. Different readers use different tag names;
// tags coexist.
//
// # Event lines
//
// Each event is a CloudEvents 1.0 JSON object on one line, members in this
// order:
//
//	{"id":"…","source":"…","specversion":"1.0","type":"…","dataschema":"<schema>-<version>",
//	 "time":"2025-03-04T05:06:07.123456Z","session":"…","data":{…}|null[,"<extra>":"…"…]}
//
// source is the configured user/client id, with " (dev)" or " (test)" appended
// in those modes (see [SourceMode]). session is a decimal uint64 string. Extra
// top-level string fields follow data, sorted by name; they may not use a
// reserved name (see [IsReservedName]).
//
// Event ids depend on [IDType] and [IDMode]: UUIDs are random (v4), sequential
// (v7 with a monotonic counter, so they sort lexicographically within a
// process) or fast-sequential (a random 128-bit base incremented as a
// little-endian counter: ordered in memory order, not as text); uint64 ids are
// a random number or a counter from a random or configured start, printed in
// decimal.
//
// # Locking and rotation
//
// Every event line is appended with one write(2) on an O_APPEND descriptor
// while holding an fcntl write lock on the whole file, so lines written by
// different processes never interleave. On Linux the lock is an
// open-file-description lock (F_OFD_SETLKW): it conflicts with the classic
// F_SETLK locks other writers (omni.structuredlog) and readers take, but unlike
// them it also excludes other descriptors in the same process and is not
// dropped when some unrelated descriptor of the file is closed.
//
// When the current file would exceed the size limit and already holds an
// event, the writer rotates it under that lock: X.log becomes X.1.log, older
// files shift up (X.1.log → X.2.log …, number inserted before the extension,
// see [RotatedName]) and the oldest beyond the retention count is deleted; a
// fresh X.log is then created with O_EXCL. Whoever first holds the lock on an
// empty X.log writes its header in a single write, so a reader that locks the
// file sees either no bytes or a whole header. A reader that finds a file
// shorter than a complete header line gets [ErrIncompleteHeader] and should
// look again later rather than skip the file. Before each append a writer
// checks, under the lock, that the file it holds is still the one at X.log and
// otherwise reopens, so no event lands in a file another process has already
// rotated away.
//
// The package needs fcntl locks and builds on Unix systems only.
package structuredlog
