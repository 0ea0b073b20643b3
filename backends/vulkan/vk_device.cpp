// The Vulkan device: instance creation (with the Khronos validation layer and a debug
// messenger when GGML_VK_VALIDATE=1), physical device selection, the logical device with one
// compute queue, the shared descriptor set / pipeline layouts, the pipeline cache and the
// staging buffer used for host <-> device transfers.
//
// Device ranking: discrete GPU > integrated GPU > virtual GPU > CPU (lavapipe) > other, among
// devices with Vulkan >= 1.1 and a compute queue; GGML_VK_DEVICE=i overrides the choice.
// One device object lives for the whole process (it is never destroyed: pipelines compiled
// once serve every backend instance, and nothing runs in static destructors).
#include "vk_device.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>

#include "vk_shaders.h"

namespace ggml {
namespace vk {

const char* result_name(VkResult r) {
    switch (r) {
#define GGML_VK_RESULT(x) \
    case x:               \
        return #x;
        GGML_VK_RESULT(VK_SUCCESS)
        GGML_VK_RESULT(VK_NOT_READY)
        GGML_VK_RESULT(VK_TIMEOUT)
        GGML_VK_RESULT(VK_INCOMPLETE)
        GGML_VK_RESULT(VK_ERROR_OUT_OF_HOST_MEMORY)
        GGML_VK_RESULT(VK_ERROR_OUT_OF_DEVICE_MEMORY)
        GGML_VK_RESULT(VK_ERROR_INITIALIZATION_FAILED)
        GGML_VK_RESULT(VK_ERROR_DEVICE_LOST)
        GGML_VK_RESULT(VK_ERROR_MEMORY_MAP_FAILED)
        GGML_VK_RESULT(VK_ERROR_LAYER_NOT_PRESENT)
        GGML_VK_RESULT(VK_ERROR_EXTENSION_NOT_PRESENT)
        GGML_VK_RESULT(VK_ERROR_FEATURE_NOT_PRESENT)
        GGML_VK_RESULT(VK_ERROR_INCOMPATIBLE_DRIVER)
        GGML_VK_RESULT(VK_ERROR_TOO_MANY_OBJECTS)
        GGML_VK_RESULT(VK_ERROR_FORMAT_NOT_SUPPORTED)
        GGML_VK_RESULT(VK_ERROR_FRAGMENTED_POOL)
        GGML_VK_RESULT(VK_ERROR_OUT_OF_POOL_MEMORY)
#undef GGML_VK_RESULT
        default:
            return "VK_ERROR_(unknown)";
    }
}

void check(VkResult r, const char* what) {
    if (r != VK_SUCCESS)
        throw Error(std::string("vulkan: ") + what + " failed: " + result_name(r) + " (" +
                    std::to_string((int)r) + ")");
}

namespace {

bool env_flag(const char* name) {
    const char* v = std::getenv(name);
    return v && *v && std::strcmp(v, "0") != 0;
}

const char* type_name(VkPhysicalDeviceType t) {
    switch (t) {
        case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU:
            return "discrete gpu";
        case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU:
            return "integrated gpu";
        case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU:
            return "virtual gpu";
        case VK_PHYSICAL_DEVICE_TYPE_CPU:
            return "cpu";
        default:
            return "other";
    }
}

int type_rank(VkPhysicalDeviceType t) {
    switch (t) {
        case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU:
            return 4;
        case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU:
            return 3;
        case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU:
            return 2;
        case VK_PHYSICAL_DEVICE_TYPE_CPU:
            return 1;
        default:
            return 0;
    }
}

// A compute-capable queue family, preferring one without graphics (a dedicated compute queue).
int compute_family(VkPhysicalDevice pd) {
    uint32_t n = 0;
    vkGetPhysicalDeviceQueueFamilyProperties(pd, &n, nullptr);
    std::vector<VkQueueFamilyProperties> fams(n);
    vkGetPhysicalDeviceQueueFamilyProperties(pd, &n, fams.data());
    int best = -1;
    for (uint32_t i = 0; i < n; ++i) {
        if (!(fams[i].queueFlags & VK_QUEUE_COMPUTE_BIT)) continue;
        if (best < 0 || !(fams[i].queueFlags & VK_QUEUE_GRAPHICS_BIT)) best = (int)i;
        if (!(fams[i].queueFlags & VK_QUEUE_GRAPHICS_BIT)) break;
    }
    return best;
}

VKAPI_ATTR VkBool32 VKAPI_CALL debug_callback(VkDebugUtilsMessageSeverityFlagBitsEXT severity,
                                              VkDebugUtilsMessageTypeFlagsEXT,
                                              const VkDebugUtilsMessengerCallbackDataEXT* data,
                                              void* user) {
    if (severity & VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT) {
        const std::string msg = data && data->pMessage ? data->pMessage : "(no message)";
        static_cast<Device*>(user)->add_validation_error(msg);
        std::fprintf(stderr, "ggml vulkan validation error: %s\n", msg.c_str());
    }
    return VK_FALSE;
}

std::mutex g_mu;
Device* g_device = nullptr;
std::string* g_failure = nullptr;

}  // namespace

Device& Device::get() {
    std::lock_guard<std::mutex> lock(g_mu);
    if (g_device) return *g_device;
    if (g_failure) throw Error(*g_failure);
    Device* d = new Device();
    try {
        d->init();
    } catch (const Error& e) {
        // Half-built objects are left alone: the failure is cached and never retried.
        g_failure = new std::string(e.what());
        throw;
    }
    g_device = d;
    return *g_device;
}

std::vector<std::string> Device::list_devices() {
    std::vector<std::string> out;
    auto app = vk_info<VkApplicationInfo>(VK_STRUCTURE_TYPE_APPLICATION_INFO);
    app.apiVersion = VK_API_VERSION_1_2;
    auto ci = vk_info<VkInstanceCreateInfo>(VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO);
    ci.pApplicationInfo = &app;
    VkInstance inst = VK_NULL_HANDLE;
    if (vkCreateInstance(&ci, nullptr, &inst) != VK_SUCCESS) return out;
    uint32_t n = 0;
    vkEnumeratePhysicalDevices(inst, &n, nullptr);
    std::vector<VkPhysicalDevice> pds(n);
    vkEnumeratePhysicalDevices(inst, &n, pds.data());
    for (uint32_t i = 0; i < n; ++i) {
        VkPhysicalDeviceProperties p;
        vkGetPhysicalDeviceProperties(pds[i], &p);
        out.push_back(std::to_string(i) + ": " + p.deviceName + " (" + type_name(p.deviceType) +
                      ")");
    }
    vkDestroyInstance(inst, nullptr);
    return out;
}

void Device::init() {
    validation_ = env_flag("GGML_VK_VALIDATE");
    create_instance();
    pick_physical_device();
    create_logical_device();
    create_layouts();
    create_transfer_objects();
    if (env_flag("GGML_VK_VERBOSE"))
        std::fprintf(stderr, "ggml vulkan: device %d: %s (%s), 16-bit storage %s, validation %s\n",
                     index_, name_.c_str(), type_name(type_), fp16_storage_ ? "on" : "off",
                     validation_ ? "on" : "off");
}

void Device::create_instance() {
    std::vector<const char*> layers, exts;
    if (validation_) {
        uint32_t n = 0;
        vkEnumerateInstanceLayerProperties(&n, nullptr);
        std::vector<VkLayerProperties> props(n);
        vkEnumerateInstanceLayerProperties(&n, props.data());
        bool found = false;
        for (const auto& p : props)
            if (std::strcmp(p.layerName, "VK_LAYER_KHRONOS_validation") == 0) found = true;
        if (!found)
            throw Error(
                "vulkan: GGML_VK_VALIDATE=1 but VK_LAYER_KHRONOS_validation is not installed");
        layers.push_back("VK_LAYER_KHRONOS_validation");
        exts.push_back(VK_EXT_DEBUG_UTILS_EXTENSION_NAME);
    }
    auto app = vk_info<VkApplicationInfo>(VK_STRUCTURE_TYPE_APPLICATION_INFO);
    app.pApplicationName = "ggml";
    app.pEngineName = "ggml";
    app.apiVersion = VK_API_VERSION_1_2;
    auto ci = vk_info<VkInstanceCreateInfo>(VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO);
    ci.pApplicationInfo = &app;
    ci.enabledLayerCount = (uint32_t)layers.size();
    ci.ppEnabledLayerNames = layers.data();
    ci.enabledExtensionCount = (uint32_t)exts.size();
    ci.ppEnabledExtensionNames = exts.data();
    auto mci = vk_info<VkDebugUtilsMessengerCreateInfoEXT>(
        VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT);
    mci.messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT |
                          VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT;
    mci.messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT |
                      VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                      VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT;
    mci.pfnUserCallback = debug_callback;
    mci.pUserData = this;
    if (validation_) ci.pNext = &mci;  // also covers instance creation and destruction
    const VkResult r = vkCreateInstance(&ci, nullptr, &instance_);
    if (r == VK_ERROR_INCOMPATIBLE_DRIVER)
        throw Error("vulkan: no Vulkan driver (vkCreateInstance: VK_ERROR_INCOMPATIBLE_DRIVER)");
    check(r, "vkCreateInstance");
    if (validation_) {
        auto create = (PFN_vkCreateDebugUtilsMessengerEXT)vkGetInstanceProcAddr(
            instance_, "vkCreateDebugUtilsMessengerEXT");
        if (!create) throw Error("vulkan: vkCreateDebugUtilsMessengerEXT is not available");
        check(create(instance_, &mci, nullptr, &messenger_), "vkCreateDebugUtilsMessengerEXT");
    }
}

void Device::pick_physical_device() {
    uint32_t n = 0;
    check(vkEnumeratePhysicalDevices(instance_, &n, nullptr), "vkEnumeratePhysicalDevices");
    if (n == 0) throw Error("vulkan: no Vulkan device");
    std::vector<VkPhysicalDevice> pds(n);
    check(vkEnumeratePhysicalDevices(instance_, &n, pds.data()), "vkEnumeratePhysicalDevices");

    auto usable = [&](uint32_t i, std::string* why) {
        VkPhysicalDeviceProperties p;
        vkGetPhysicalDeviceProperties(pds[i], &p);
        if (p.apiVersion < VK_API_VERSION_1_1) {
            *why = std::string(p.deviceName) + " supports only Vulkan " +
                   std::to_string(VK_VERSION_MAJOR(p.apiVersion)) + "." +
                   std::to_string(VK_VERSION_MINOR(p.apiVersion)) + " (1.1 needed)";
            return false;
        }
        if (compute_family(pds[i]) < 0) {
            *why = std::string(p.deviceName) + " has no compute queue";
            return false;
        }
        return true;
    };

    int chosen = -1;
    std::string why;
    if (const char* e = std::getenv("GGML_VK_DEVICE"); e && *e) {
        char* end = nullptr;
        const long i = std::strtol(e, &end, 10);
        if (*end != 0 || i < 0 || i >= (long)n)
            throw Error("vulkan: GGML_VK_DEVICE=" + std::string(e) + " is not a device index (" +
                        std::to_string(n) + " device(s))");
        if (!usable((uint32_t)i, &why))
            throw Error("vulkan: GGML_VK_DEVICE=" + std::string(e) + ": " + why);
        chosen = (int)i;
    } else {
        int best_rank = -1;
        for (uint32_t i = 0; i < n; ++i) {
            if (!usable(i, &why)) continue;
            VkPhysicalDeviceProperties p;
            vkGetPhysicalDeviceProperties(pds[i], &p);
            if (type_rank(p.deviceType) > best_rank) {
                best_rank = type_rank(p.deviceType);
                chosen = (int)i;
            }
        }
        if (chosen < 0) throw Error("vulkan: no usable Vulkan device (" + why + ")");
    }
    phys_ = pds[(size_t)chosen];
    index_ = chosen;
    queue_family_ = (uint32_t)compute_family(phys_);

    VkPhysicalDeviceProperties p;
    vkGetPhysicalDeviceProperties(phys_, &p);
    name_ = p.deviceName;
    type_ = p.deviceType;
    storage_align_ = (size_t)std::max<VkDeviceSize>(p.limits.minStorageBufferOffsetAlignment, 4);
    max_storage_range_ = p.limits.maxStorageBufferRange;
    for (int i = 0; i < 3; ++i) max_groups_[i] = p.limits.maxComputeWorkGroupCount[i];
    vkGetPhysicalDeviceMemoryProperties(phys_, &mem_props_);
    {
        uint32_t nf = 0;
        vkGetPhysicalDeviceQueueFamilyProperties(phys_, &nf, nullptr);
        std::vector<VkQueueFamilyProperties> fams(nf);
        vkGetPhysicalDeviceQueueFamilyProperties(phys_, &nf, fams.data());
        if (fams[queue_family_].timestampValidBits > 0)
            timestamp_period_ns_ = p.limits.timestampPeriod;
    }

    auto f16 = vk_info<VkPhysicalDevice16BitStorageFeatures>(
        VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES);
    auto f2 = vk_info<VkPhysicalDeviceFeatures2>(VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2);
    f2.pNext = &f16;
    vkGetPhysicalDeviceFeatures2(phys_, &f2);
    fp16_storage_ = f16.storageBuffer16BitAccess == VK_TRUE && !env_flag("GGML_VK_DISABLE_F16");
}

void Device::create_logical_device() {
    const float prio = 1.0f;
    auto qci = vk_info<VkDeviceQueueCreateInfo>(VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO);
    qci.queueFamilyIndex = queue_family_;
    qci.queueCount = 1;
    qci.pQueuePriorities = &prio;
    auto f16 = vk_info<VkPhysicalDevice16BitStorageFeatures>(
        VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES);
    f16.storageBuffer16BitAccess = fp16_storage_ ? VK_TRUE : VK_FALSE;
    auto dci = vk_info<VkDeviceCreateInfo>(VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO);
    dci.pNext = &f16;
    dci.queueCreateInfoCount = 1;
    dci.pQueueCreateInfos = &qci;
    check(vkCreateDevice(phys_, &dci, nullptr, &dev_), "vkCreateDevice");
    vkGetDeviceQueue(dev_, queue_family_, 0, &queue_);
}

void Device::create_layouts() {
    VkDescriptorSetLayoutBinding b[kNumBindings];
    for (uint32_t i = 0; i < kNumBindings; ++i) {
        b[i] = {};
        b[i].binding = i;
        b[i].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
        b[i].descriptorCount = 1;
        b[i].stageFlags = VK_SHADER_STAGE_COMPUTE_BIT;
    }
    auto lci = vk_info<VkDescriptorSetLayoutCreateInfo>(
        VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO);
    lci.bindingCount = kNumBindings;
    lci.pBindings = b;
    check(vkCreateDescriptorSetLayout(dev_, &lci, nullptr, &set_layout_),
          "vkCreateDescriptorSetLayout");
    VkPushConstantRange pcr{VK_SHADER_STAGE_COMPUTE_BIT, 0, sizeof(PushConsts)};
    auto pci = vk_info<VkPipelineLayoutCreateInfo>(VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO);
    pci.setLayoutCount = 1;
    pci.pSetLayouts = &set_layout_;
    pci.pushConstantRangeCount = 1;
    pci.pPushConstantRanges = &pcr;
    check(vkCreatePipelineLayout(dev_, &pci, nullptr, &pipeline_layout_), "vkCreatePipelineLayout");

    std::vector<char> initial;
    if (const char* path = std::getenv("GGML_VK_PIPELINE_CACHE"); path && *path) {
        pipeline_cache_path_ = path;
        std::ifstream f(path, std::ios::binary);
        if (f) initial.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
    }
    auto cci = vk_info<VkPipelineCacheCreateInfo>(VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO);
    cci.initialDataSize = initial.size();
    cci.pInitialData = initial.empty() ? nullptr : initial.data();
    // A stale or foreign cache file is ignored by the driver (its header does not match).
    check(vkCreatePipelineCache(dev_, &cci, nullptr, &pipeline_cache_), "vkCreatePipelineCache");
}

void Device::create_transfer_objects() {
    staging_ = create_buffer(size_t(8) << 20, true);
    auto pci = vk_info<VkCommandPoolCreateInfo>(VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO);
    pci.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT;
    pci.queueFamilyIndex = queue_family_;
    check(vkCreateCommandPool(dev_, &pci, nullptr, &transfer_pool_), "vkCreateCommandPool");
    auto ai = vk_info<VkCommandBufferAllocateInfo>(VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO);
    ai.commandPool = transfer_pool_;
    ai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
    ai.commandBufferCount = 1;
    check(vkAllocateCommandBuffers(dev_, &ai, &transfer_cb_), "vkAllocateCommandBuffers");
    auto fci = vk_info<VkFenceCreateInfo>(VK_STRUCTURE_TYPE_FENCE_CREATE_INFO);
    check(vkCreateFence(dev_, &fci, nullptr, &transfer_fence_), "vkCreateFence");
}

uint32_t Device::find_memory_type(uint32_t bits, VkMemoryPropertyFlags want,
                                  VkMemoryPropertyFlags prefer) const {
    for (int pass = 0; pass < 2; ++pass) {
        const VkMemoryPropertyFlags need = pass == 0 ? (want | prefer) : want;
        for (uint32_t i = 0; i < mem_props_.memoryTypeCount; ++i)
            if ((bits & (1u << i)) && (mem_props_.memoryTypes[i].propertyFlags & need) == need)
                return i;
    }
    throw Error("vulkan: no memory type with the required properties");
}

Allocation Device::create_buffer(size_t size, bool host_visible) {
    Allocation a;
    a.size = (std::max<size_t>(size, 4) + 255) / 256 * 256;
    auto bci = vk_info<VkBufferCreateInfo>(VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO);
    bci.size = a.size;
    bci.usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT |
                VK_BUFFER_USAGE_TRANSFER_DST_BIT;
    bci.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
    check(vkCreateBuffer(dev_, &bci, nullptr, &a.buffer), "vkCreateBuffer");
    VkMemoryRequirements req;
    vkGetBufferMemoryRequirements(dev_, a.buffer, &req);
    auto mai = vk_info<VkMemoryAllocateInfo>(VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO);
    mai.allocationSize = req.size;
    try {
        mai.memoryTypeIndex =
            host_visible
                ? find_memory_type(
                      req.memoryTypeBits,
                      VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT,
                      VK_MEMORY_PROPERTY_HOST_CACHED_BIT)
                : find_memory_type(req.memoryTypeBits, 0, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT);
        const VkResult r = vkAllocateMemory(dev_, &mai, nullptr, &a.memory);
        if (r != VK_SUCCESS)
            throw Error("vulkan: cannot allocate a buffer of " + std::to_string(size) +
                        " bytes on " + name_ + ": " + result_name(r));
        check(vkBindBufferMemory(dev_, a.buffer, a.memory, 0), "vkBindBufferMemory");
        if (host_visible)
            check(vkMapMemory(dev_, a.memory, 0, VK_WHOLE_SIZE, 0, &a.mapped), "vkMapMemory");
    } catch (...) {
        destroy_buffer(a);
        throw;
    }
    return a;
}

void Device::destroy_buffer(Allocation& a) {
    if (a.mapped) vkUnmapMemory(dev_, a.memory);
    if (a.buffer) vkDestroyBuffer(dev_, a.buffer, nullptr);
    if (a.memory) vkFreeMemory(dev_, a.memory, nullptr);
    a = Allocation{};
}

uint64_t Device::register_buffer(VkBuffer b, size_t size) {
    std::lock_guard<std::mutex> lock(registry_mu_);
    for (size_t i = 0; i < registry_.size(); ++i)
        if (registry_[i].first == VK_NULL_HANDLE) {
            registry_[i] = {b, size};
            return i + 1;
        }
    if (registry_.size() + 1 > kMaxBufferId) throw Error("vulkan: too many live buffers");
    registry_.push_back({b, size});
    return registry_.size();
}

void Device::unregister_buffer(uint64_t id) {
    std::lock_guard<std::mutex> lock(registry_mu_);
    if (id >= 1 && id <= registry_.size()) registry_[id - 1] = {VK_NULL_HANDLE, 0};
}

bool Device::resolve(const void* addr, Location* loc) const {
    const uint64_t a = (uint64_t)(uintptr_t)addr;
    if (!(a & kAddrTag)) return false;
    const uint64_t id = (a & ~kAddrTag) >> kAddrShift;
    std::lock_guard<std::mutex> lock(registry_mu_);
    if (id < 1 || id > registry_.size() || registry_[id - 1].first == VK_NULL_HANDLE) return false;
    loc->buffer = registry_[id - 1].first;
    loc->buffer_size = registry_[id - 1].second;
    loc->offset = (size_t)(a & kOffsetMask);
    loc->id = id;
    return loc->offset <= loc->buffer_size;
}

template <typename F>
void Device::transfer(F record) {
    check(vkResetCommandBuffer(transfer_cb_, 0), "vkResetCommandBuffer");
    auto bi = vk_info<VkCommandBufferBeginInfo>(VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO);
    bi.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
    check(vkBeginCommandBuffer(transfer_cb_, &bi), "vkBeginCommandBuffer");
    // Earlier submissions' shader writes become visible to this transfer, and the transfer's
    // writes to the host (for downloads) and to later submissions.
    auto before = vk_info<VkMemoryBarrier>(VK_STRUCTURE_TYPE_MEMORY_BARRIER);
    before.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
    before.dstAccessMask = VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
    vkCmdPipelineBarrier(transfer_cb_, VK_PIPELINE_STAGE_ALL_COMMANDS_BIT,
                         VK_PIPELINE_STAGE_TRANSFER_BIT, 0, 1, &before, 0, nullptr, 0, nullptr);
    record(transfer_cb_);
    auto after = vk_info<VkMemoryBarrier>(VK_STRUCTURE_TYPE_MEMORY_BARRIER);
    after.srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT;
    after.dstAccessMask = VK_ACCESS_HOST_READ_BIT | VK_ACCESS_SHADER_READ_BIT |
                          VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_READ_BIT;
    vkCmdPipelineBarrier(transfer_cb_, VK_PIPELINE_STAGE_TRANSFER_BIT,
                         VK_PIPELINE_STAGE_HOST_BIT | VK_PIPELINE_STAGE_ALL_COMMANDS_BIT, 0, 1,
                         &after, 0, nullptr, 0, nullptr);
    check(vkEndCommandBuffer(transfer_cb_), "vkEndCommandBuffer");
    submit_and_wait(transfer_cb_, transfer_fence_);
}

void Device::upload(VkBuffer dst, size_t offset, const void* src, size_t n) {
    std::lock_guard<std::mutex> lock(transfer_mu_);
    for (size_t done = 0; done < n;) {
        const size_t chunk = std::min(n - done, staging_.size);
        std::memcpy(staging_.mapped, (const uint8_t*)src + done, chunk);
        transfer([&](VkCommandBuffer cb) {
            VkBufferCopy c{0, offset + done, chunk};
            vkCmdCopyBuffer(cb, staging_.buffer, dst, 1, &c);
        });
        done += chunk;
    }
}

void Device::download(VkBuffer src, size_t offset, void* dst, size_t n) {
    std::lock_guard<std::mutex> lock(transfer_mu_);
    for (size_t done = 0; done < n;) {
        const size_t chunk = std::min(n - done, staging_.size);
        transfer([&](VkCommandBuffer cb) {
            VkBufferCopy c{offset + done, 0, chunk};
            vkCmdCopyBuffer(cb, src, staging_.buffer, 1, &c);
        });
        std::memcpy((uint8_t*)dst + done, staging_.mapped, chunk);
        done += chunk;
    }
}

void Device::fill(VkBuffer dst, size_t size, uint8_t byte) {
    std::lock_guard<std::mutex> lock(transfer_mu_);
    const uint32_t word = 0x01010101u * byte;
    transfer([&](VkCommandBuffer cb) { vkCmdFillBuffer(cb, dst, 0, size / 4 * 4, word); });
}

VkPipeline Device::pipeline(const std::string& module) {
    std::lock_guard<std::mutex> lock(pipeline_mu_);
    auto it = pipelines_.find(module);
    if (it != pipelines_.end()) return it->second;
    const ShaderModuleData* sm = nullptr;
    for (const auto& s : shader_table())
        if (module == s.name) sm = &s;
    if (!sm) throw Error("vulkan: no embedded shader module '" + module + "'");
    auto mci = vk_info<VkShaderModuleCreateInfo>(VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO);
    mci.codeSize = sm->size;
    mci.pCode = reinterpret_cast<const uint32_t*>(sm->code);
    VkShaderModule mod = VK_NULL_HANDLE;
    check(vkCreateShaderModule(dev_, &mci, nullptr, &mod), "vkCreateShaderModule");
    auto pci = vk_info<VkComputePipelineCreateInfo>(VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO);
    pci.stage.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO;
    pci.stage.stage = VK_SHADER_STAGE_COMPUTE_BIT;
    pci.stage.module = mod;
    pci.stage.pName = "main";
    pci.layout = pipeline_layout_;
    VkPipeline p = VK_NULL_HANDLE;
    const VkResult r = vkCreateComputePipelines(dev_, pipeline_cache_, 1, &pci, nullptr, &p);
    vkDestroyShaderModule(dev_, mod, nullptr);
    check(r, ("vkCreateComputePipelines(" + module + ")").c_str());
    pipelines_[module] = p;
    if (!pipeline_cache_path_.empty()) {
        size_t n = 0;
        if (vkGetPipelineCacheData(dev_, pipeline_cache_, &n, nullptr) == VK_SUCCESS && n > 0) {
            std::vector<char> data(n);
            if (vkGetPipelineCacheData(dev_, pipeline_cache_, &n, data.data()) == VK_SUCCESS) {
                std::ofstream f(pipeline_cache_path_, std::ios::binary | std::ios::trunc);
                f.write(data.data(), (std::streamsize)n);
            }
        }
    }
    return p;
}

void Device::submit_and_wait(VkCommandBuffer cb, VkFence fence) {
    auto si = vk_info<VkSubmitInfo>(VK_STRUCTURE_TYPE_SUBMIT_INFO);
    si.commandBufferCount = 1;
    si.pCommandBuffers = &cb;
    {
        std::lock_guard<std::mutex> lock(queue_mu_);
        check(vkQueueSubmit(queue_, 1, &si, fence), "vkQueueSubmit");
    }
    check(vkWaitForFences(dev_, 1, &fence, VK_TRUE, UINT64_MAX), "vkWaitForFences");
    check(vkResetFences(dev_, 1, &fence), "vkResetFences");
}

std::vector<std::string> Device::take_validation_errors() {
    std::lock_guard<std::mutex> lock(validation_mu_);
    std::vector<std::string> out;
    out.swap(validation_errors_);
    return out;
}

void Device::add_validation_error(const std::string& msg) {
    std::lock_guard<std::mutex> lock(validation_mu_);
    validation_errors_.push_back(msg);
}

}  // namespace vk
}  // namespace ggml
