// A device buffer of the Vulkan backend. Its memory is not host-visible in general: base()
// is nullptr and device_base() is the buffer's opaque address (see vk_device.h); read() and
// write() go through the device's staging buffer.
#pragma once

#include "ggml/backend.h"
#include "vk_device.h"

namespace ggml {
namespace vk {

class VulkanBuffer : public Buffer {
  public:
    VulkanBuffer(Backend& backend, Device& dev, size_t size);
    ~VulkanBuffer() override;
    VulkanBuffer(const VulkanBuffer&) = delete;
    VulkanBuffer& operator=(const VulkanBuffer&) = delete;

    Backend& backend() const override { return backend_; }
    size_t size() const override { return size_; }
    void* base() const override { return nullptr; }
    void* device_base() const override;
    void write(size_t offset, const void* src, size_t n) override;
    void read(size_t offset, void* dst, size_t n) const override;
    void fill(uint8_t byte) override;

  private:
    void check_range(size_t offset, size_t n, const char* what) const;
    void check_validation(const char* what) const;

    Backend& backend_;
    Device& dev_;
    size_t size_;
    Allocation alloc_;
    uint64_t id_ = 0;
};

}  // namespace vk
}  // namespace ggml
