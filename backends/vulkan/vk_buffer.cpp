// Device buffers: created on the shared device, registered under an id that forms their
// opaque base address, and read/written through host-visible staging memory.
#include "vk_buffer.h"

#include <string>

namespace ggml {
namespace vk {

static_assert(sizeof(void*) == 8, "the Vulkan backend's buffer addresses need 64-bit pointers");

VulkanBuffer::VulkanBuffer(Backend& backend, Device& dev, size_t size)
    : backend_(backend), dev_(dev), size_(size) {
    alloc_ = dev_.create_buffer(size, false);
    try {
        id_ = dev_.register_buffer(alloc_.buffer, alloc_.size);
    } catch (...) {
        dev_.destroy_buffer(alloc_);
        throw;
    }
}

VulkanBuffer::~VulkanBuffer() {
    dev_.unregister_buffer(id_);
    dev_.destroy_buffer(alloc_);
}

void* VulkanBuffer::device_base() const {
    return reinterpret_cast<void*>((uintptr_t)(kAddrTag | (id_ << kAddrShift)));
}

void VulkanBuffer::check_range(size_t offset, size_t n, const char* what) const {
    if (offset > size_ || n > size_ - offset)
        throw Error(std::string("vulkan buffer ") + what + ": range [" + std::to_string(offset) +
                    ", " + std::to_string(offset + n) + ") outside buffer of " +
                    std::to_string(size_) + " bytes");
}

// A validation error met by a transfer fails that transfer (compute() reports its own).
void VulkanBuffer::check_validation(const char* what) const {
    if (!dev_.validation()) return;
    const auto errs = dev_.take_validation_errors();
    if (!errs.empty())
        throw Error(std::string("vulkan buffer ") + what + ": validation error: " + errs.front());
}

void VulkanBuffer::write(size_t offset, const void* src, size_t n) {
    check_range(offset, n, "write");
    if (n) dev_.upload(alloc_.buffer, offset, src, n);
    check_validation("write");
}

void VulkanBuffer::read(size_t offset, void* dst, size_t n) const {
    check_range(offset, n, "read");
    if (n) dev_.download(alloc_.buffer, offset, dst, n);
    check_validation("read");
}

void VulkanBuffer::fill(uint8_t byte) {
    // vkCmdFillBuffer writes whole words; the allocation is rounded up to 256 bytes, so the
    // words cover every byte of the buffer.
    dev_.fill(alloc_.buffer, alloc_.size, byte);
    check_validation("fill");
}

}  // namespace vk
}  // namespace ggml
