// What the worker reads of the Swift runtime's data. The layouts depend on
// the object format and on Objective-C interoperability (Darwin), not on the
// layer's branch, so the POSIX-only branch on Linux reads them as Linux does.
#include "platform.h"

#if defined(__APPLE__)
#include <objc/runtime.h>
#endif

// A Swift symbol's name as the object format spells it: Mach-O puts an
// underscore before every C-level name, ELF nothing.
#define DEFERDROP_STRING(x) #x
#define DEFERDROP_EXPANDED_STRING(x) DEFERDROP_STRING(x)
#define DEFERDROP_SYMBOL(name) DEFERDROP_EXPANDED_STRING(__USER_LABEL_PREFIX__) name

// Exported by the Swift runtime with the C calling convention.
extern _Bool swift_isUniquelyReferenced_nonNull_native(const void *object);

#if defined(__APPLE__)
/// An Objective-C tagged pointer: a value in the pointer's bits, no object.
static int is_tagged_pointer(const void *object) {
#if defined(__aarch64__) || defined(__arm64__)
    return (intptr_t)object < 0;
#else
    return ((uintptr_t)object & 1) != 0;
#endif
}

// The Swift runtime's own test (usesNativeSwiftReferenceCounting): a Swift
// class's metadata has the "is Swift" bit (2) in its fifth word, the
// Objective-C class data pointer, and then `UsesSwiftRefcounting` (2) in its
// 32-bit class flags, which a subclass of NSObject lacks (docs/ABI/TypeMetadata.rst).
int _deferdrop_object_is_native(const void *object) {
    if (is_tagged_pointer(object)) return 0;
    const uintptr_t *class_words = (const uintptr_t *)(const void *)object_getClass((id)object);
    if (!class_words || (class_words[4] & 2) == 0) return 0;
    uint32_t flags = *(const uint32_t *)(const void *)(class_words + 5);
    return (flags & 2) != 0;
}
#endif

int _deferdrop_object_is_uniquely_referenced(const void *object) {
    return swift_isUniquelyReferenced_nonNull_native(object);
}

// The Swift runtime's own immortality test, which it does not export
// (stdlib/public/SwiftShims/swift/shims/RefCount.h, 64-bit): a native object's
// second word holds its inline reference counts, and an immortal object has
// all 32 low bits set (IsImmortal) with UseSlowRC (bit 63) set and the side
// table mark (bit 62) clear. A live heap object never has 2^32 - 1 unowned
// references, and one with a side table has bit 62 set. Reading the word
// takes no lock, unlike asking the dynamic loader where the object lies,
// which could hold its lock across a fork().
int _deferdrop_object_is_immortal(const void *object) {
#if UINTPTR_MAX == 0xffffffffffffffffu
    uint64_t bits = __atomic_load_n((const uint64_t *)object + 1, __ATOMIC_RELAXED);
    return (bits & 0xffffffffu) == 0xffffffffu && (bits >> 62) == 2;
#else
    (void)object;
    return 0;
#endif
}

// The nominal type descriptors of the standard library's single-buffer
// collections, exported by libswiftCore under their mangled names.
extern const char _deferdrop_array_descriptor __asm__(DEFERDROP_SYMBOL("$sSaMn"));
extern const char _deferdrop_contiguous_array_descriptor __asm__(DEFERDROP_SYMBOL("$ss15ContiguousArrayVMn"));
extern const char _deferdrop_dictionary_descriptor __asm__(DEFERDROP_SYMBOL("$sSDMn"));
extern const char _deferdrop_set_descriptor __asm__(DEFERDROP_SYMBOL("$sShMn"));

// The metadata layout is the runtime's (docs/ABI/TypeMetadata.rst in the
// Swift repository, 64-bit): the first word is the kind; a struct's second
// word is its nominal type descriptor; an existential's 32-bit flags follow
// the kind, and their top bit is set when it is *not* class-bound.
int _deferdrop_type_is_one_counted_reference(const void *metadata) {
#if UINTPTR_MAX == 0xffffffffffffffffu
    const uintptr_t *words = (const uintptr_t *)metadata;
    uintptr_t kind = words[0];
    enum { kind_class = 0, kind_struct = 0x200, kind_existential = 0x303, last_enumerated_kind = 0x7ff };
    // A Swift class is kind 0, or on Darwin an isa pointer.
    if (kind == kind_class || kind > last_enumerated_kind) return 1;
    if (kind == kind_struct) {
        const void *descriptor = (const void *)words[1];
        if (descriptor == &_deferdrop_contiguous_array_descriptor) return 1;
#if defined(__APPLE__)
        // An Array, Dictionary or Set may hold a bridged Objective-C
        // collection, whose reference carries flag bits: not inspected.
        return 0;
#else
        return descriptor == &_deferdrop_array_descriptor || descriptor == &_deferdrop_dictionary_descriptor
            || descriptor == &_deferdrop_set_descriptor;
#endif
    }
    if (kind == kind_existential) {
        uint32_t flags = *(const uint32_t *)(words + 1);
        return (flags & 0x80000000u) == 0;
    }
    return 0;
#else
    (void)metadata;
    return 0;
#endif
}
