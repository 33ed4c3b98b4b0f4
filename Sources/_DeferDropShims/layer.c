#include "platform.h"

int _deferdrop_platform_layer(void) {
    return _deferdrop_platform_layer_of_headers();
}
