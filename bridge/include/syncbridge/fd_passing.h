// syncbridge/fd_passing.h: handing fds (sync_files among them) to another process.
//
// Model: over a UNIX-domain socket, an fd travels as SCM_RIGHTS ancillary data; the receiver
// gets a new fd for the same open file (for a sync_file: the same fence), the sender keeps its
// own. One fd per message, carried with one byte of ordinary data so stream sockets work too.
//
// Ownership: send_fd() borrows both fds. receive_fd() returns a new fd that you own, opened
// close-on-exec (MSG_CMSG_CLOEXEC); anything else that arrived with it is closed.
#pragma once

#include "syncbridge/export.h"

#include "syncbridge/result.h"
#include "syncbridge/unique_fd.h"

namespace syncbridge {

// Sends fd over unix_socket (retrying EINTR, never raising SIGPIPE). EBADF for an empty fd,
// ENOTSOCK when unix_socket is not a socket, EPIPE when the peer is gone...
[[nodiscard]] SYNCBRIDGE_API Result<void> send_fd(int unix_socket, int fd);

// Blocks until a message arrives on unix_socket and returns the fd it carried. Fails when the
// peer closed the socket (ECONNRESET), when the message carried no fd (EBADMSG), or more than
// one, or the control data was truncated (EMSGSIZE).
[[nodiscard]] SYNCBRIDGE_API Result<UniqueFd> receive_fd(int unix_socket);

}  // namespace syncbridge
