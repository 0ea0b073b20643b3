// Internal interface of the Vulkan backend: the process-wide device (instance, physical device
// selection, logical device, queue, pipelines, staging transfers, validation messages) and the
// registry that maps the opaque addresses stored in Tensor::data back to (VkBuffer, offset).
//
// Addresses: every device buffer gets an id and the fake base address kAddrTag | id << 40, so a
// tensor's data pointer encodes its buffer (bits 40..61) and its byte offset (bits 0..39).
// Bit 62 is never set in a user-space host pointer, so host memory is never mistaken for a
// device buffer. These addresses are never dereferenced; they only satisfy
// `Tensor::data - device_base()` = offset.
#pragma once

#include <vulkan/vulkan.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "ggml/types.h"

namespace ggml {
namespace vk {

constexpr int kAddrShift = 40;
constexpr uint64_t kOffsetMask = (uint64_t(1) << kAddrShift) - 1;
constexpr uint64_t kAddrTag = uint64_t(1) << 62;
constexpr uint64_t kMaxBufferId = (uint64_t(1) << (62 - kAddrShift)) - 1;

// A zeroed Vulkan info struct with its sType set.
template <typename T>
T vk_info(VkStructureType s) {
    T t{};
    t.sType = s;
    return t;
}

const char* result_name(VkResult r);
// Throws ggml::Error("vulkan: <what> failed: <VK_...>") unless r is VK_SUCCESS.
void check(VkResult r, const char* what);

// A VkBuffer with its own memory; `mapped` is set for host-visible allocations.
struct Allocation {
    VkBuffer buffer = VK_NULL_HANDLE;
    VkDeviceMemory memory = VK_NULL_HANDLE;
    size_t size = 0;
    void* mapped = nullptr;
};

// Where a tensor's bytes are: the buffer, the byte offset and the buffer size.
struct Location {
    VkBuffer buffer = VK_NULL_HANDLE;
    size_t offset = 0;
    size_t buffer_size = 0;
    uint64_t id = 0;
};

class Device {
  public:
    // The shared device, created on first use with the settings read from the environment:
    //   GGML_VK_DEVICE=i       use physical device i (default: the best-ranked one)
    //   GGML_VK_VALIDATE=1     enable VK_LAYER_KHRONOS_validation and record its errors
    //   GGML_VK_DISABLE_F16=1  ignore 16-bit storage (exercise the packed-uint fallback)
    //   GGML_VK_PIPELINE_CACHE=path  load/save the pipeline cache there
    //   GGML_VK_PROFILE=1      time every dispatch, print a per-shader summary per backend
    //   GGML_VK_VERBOSE=1      print the chosen device and its settings to stderr
    // Throws ggml::Error with the reason when no usable device exists; the reason is cached.
    static Device& get();
    // Names of the physical devices, for diagnostics ("0: llvmpipe (cpu)").
    static std::vector<std::string> list_devices();

    Device(const Device&) = delete;
    Device& operator=(const Device&) = delete;

    VkDevice dev() const { return dev_; }
    const std::string& name() const { return name_; }
    VkPhysicalDeviceType type() const { return type_; }
    int index() const { return index_; }
    bool fp16_storage() const { return fp16_storage_; }
    bool validation() const { return validation_; }
    size_t storage_align() const { return storage_align_; }
    size_t max_storage_range() const { return max_storage_range_; }
    uint32_t max_groups(int axis) const { return max_groups_[axis]; }
    uint32_t queue_family() const { return queue_family_; }
    // Nanoseconds per timestamp tick, 0 when the queue cannot write timestamps.
    double timestamp_period_ns() const { return timestamp_period_ns_; }

    Allocation create_buffer(size_t size, bool host_visible);
    void destroy_buffer(Allocation& a);

    // Device buffers by id (see the address scheme above).
    uint64_t register_buffer(VkBuffer b, size_t size);
    void unregister_buffer(uint64_t id);
    // False when `addr` is not inside a live device buffer.
    bool resolve(const void* addr, Location* loc) const;

    // Synchronous transfers through the staging buffer (one submit and fence wait per chunk).
    void upload(VkBuffer dst, size_t offset, const void* src, size_t n);
    void download(VkBuffer src, size_t offset, void* dst, size_t n);
    void fill(VkBuffer dst, size_t size, uint8_t byte);

    // Pipeline for an embedded module (created on first use, through the pipeline cache).
    VkPipeline pipeline(const std::string& module);
    VkPipelineLayout pipeline_layout() const { return pipeline_layout_; }
    VkDescriptorSetLayout set_layout() const { return set_layout_; }

    // Submits one command buffer and waits for `fence` (reset before and after).
    void submit_and_wait(VkCommandBuffer cb, VkFence fence);

    // Validation messages of error severity recorded since the last call.
    std::vector<std::string> take_validation_errors();
    void add_validation_error(const std::string& msg);

  private:
    Device() = default;
    void init();
    void create_instance();
    void pick_physical_device();
    void create_logical_device();
    void create_layouts();
    void create_transfer_objects();
    uint32_t find_memory_type(uint32_t bits, VkMemoryPropertyFlags want,
                              VkMemoryPropertyFlags prefer) const;
    template <typename F>
    void transfer(F record);

    VkInstance instance_ = VK_NULL_HANDLE;
    VkDebugUtilsMessengerEXT messenger_ = VK_NULL_HANDLE;
    VkPhysicalDevice phys_ = VK_NULL_HANDLE;
    VkDevice dev_ = VK_NULL_HANDLE;
    VkQueue queue_ = VK_NULL_HANDLE;
    uint32_t queue_family_ = 0;
    VkPhysicalDeviceMemoryProperties mem_props_{};
    std::string name_;
    VkPhysicalDeviceType type_ = VK_PHYSICAL_DEVICE_TYPE_OTHER;
    int index_ = -1;
    bool fp16_storage_ = false;
    bool validation_ = false;
    size_t storage_align_ = 256;
    size_t max_storage_range_ = 0;
    uint32_t max_groups_[3] = {65535, 65535, 65535};
    double timestamp_period_ns_ = 0.0;

    VkDescriptorSetLayout set_layout_ = VK_NULL_HANDLE;
    VkPipelineLayout pipeline_layout_ = VK_NULL_HANDLE;
    VkPipelineCache pipeline_cache_ = VK_NULL_HANDLE;
    std::string pipeline_cache_path_;
    std::mutex pipeline_mu_;
    std::map<std::string, VkPipeline> pipelines_;

    mutable std::mutex registry_mu_;
    std::vector<std::pair<VkBuffer, size_t>> registry_;  // index = id - 1

    std::mutex queue_mu_;

    std::mutex transfer_mu_;
    Allocation staging_;
    VkCommandPool transfer_pool_ = VK_NULL_HANDLE;
    VkCommandBuffer transfer_cb_ = VK_NULL_HANDLE;
    VkFence transfer_fence_ = VK_NULL_HANDLE;

    std::mutex validation_mu_;
    std::vector<std::string> validation_errors_;
};

// The params block every shader reads at binding 0 (layout matches common.glsl, std430).
struct TensorDesc {
    uint32_t ne[4];
    uint32_t nb[4];  // in elements (bytes for q8_0/q4_0)
    uint32_t offs;   // in elements (bytes for q8_0/q4_0), relative to the binding's start
    uint32_t type;
    uint32_t pad[2];
};
struct ShaderParams {
    TensorDesc t[6];  // dst, src[0..4]
    int32_t ip[16];
    float fp[16];
    uint32_t bits[8];
};
static_assert(sizeof(TensorDesc) == 48 && sizeof(ShaderParams) == 448, "std430 layout");

struct PushConsts {
    uint32_t n = 0;
    uint32_t node = 0;
    uint32_t op = 0;
    uint32_t pad = 0;
};

// Bindings of the shared descriptor set layout.
constexpr uint32_t kBindParams = 0, kBindDst = 1, kBindSrc0 = 2, kBindErrors = 7;
constexpr uint32_t kNumBindings = 8;

}  // namespace vk
}  // namespace ggml
