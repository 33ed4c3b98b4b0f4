#include "platform.h"
#include "_DeferDropShims.h"

// The thread-locals the headers read inline.
__thread _deferdrop_thread_role _deferdrop_tls_role;
__thread _deferdrop_pin _deferdrop_tls_pin;
__thread uint64_t _deferdrop_tls_lane_queue;
__thread _deferdrop_lane *_deferdrop_tls_lane;
