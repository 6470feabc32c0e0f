#pragma once

/// Runs `path` with `argv` (NULL-terminated) and waits for it. The child gets /dev/null as
/// stdin, stdout and stderr and no other descriptor of ours. Foundation's Process hands every
/// child one end of a socket pair and waits for it to close; a daemon the child starts (tmux's
/// server) would hold it forever and hang waitUntilExit. Returns the exit status, 128+signal
/// for a signal, or -errno when spawning or waiting failed.
int test_spawn_detached(const char *path, char *const argv[]);
