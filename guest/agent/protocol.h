/* Generated from src/protocol/messages.ts (npm run gen:protocol). Do not edit by hand. */
#ifndef PYRO_PROTOCOL_H
#define PYRO_PROTOCOL_H

#define PYRO_PROTOCOL_VERSION 3
#define PYRO_AGENT_VERSION "2.8.0"
#define PYRO_MAX_HEADER_BYTES 65536
#define PYRO_MAX_FRAME_BYTES 1114112
#define PYRO_MAX_CHUNK_BYTES 65536
#define PYRO_AGENT_PORT_NAME "org.pyro.agent.0"
#define PYRO_DEFAULT_WINDOW_BYTES 1048576
#define PYRO_MAX_WINDOW_BYTES 67108864

#define PYRO_MSG_HELLO "hello"
#define PYRO_MSG_PING "ping"
#define PYRO_MSG_PONG "pong"
#define PYRO_MSG_SHUTDOWN "shutdown"
#define PYRO_MSG_EXEC "exec"
#define PYRO_MSG_STARTED "started"
#define PYRO_MSG_STDOUT "stdout"
#define PYRO_MSG_STDERR "stderr"
#define PYRO_MSG_STDIN "stdin"
#define PYRO_MSG_STDIN_EOF "stdin_eof"
#define PYRO_MSG_SIGNAL "signal"
#define PYRO_MSG_RESIZE "resize"
#define PYRO_MSG_CREDIT "credit"
#define PYRO_MSG_EXIT "exit"
#define PYRO_MSG_ERROR "error"
#define PYRO_MSG_SETUP "setup"
#define PYRO_MSG_SETUP_DONE "setup_done"

#endif
