// The Vulkan backend: runs a node list (a plan segment) as ONE command buffer and ONE submit.
//
// compute() turns every node into dispatches (vk_ops.cpp), then records them in order. Each
// dispatch gets its parameter block (tensor shapes, element strides and offsets, op scalars)
// in a host-visible buffer, a descriptor set binding its tensors' buffers, and push constants
// (item count, node index, op variant). Between dispatches a memory barrier is recorded only
// when the dispatch depends on one recorded since the last barrier: it reads bytes they write
// (read after write) or writes bytes they read or write (write after read / write), by exact
// byte ranges per buffer. Independent dispatches therefore run without a barrier between
// them. The command buffer ends with a barrier to the host, is submitted once and waited for
// with a fence; then the error buffer (row ids out of range) and the validation messages are
// turned into KernelErrors reports.
#include "vk_backend.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>

#include "vk_buffer.h"
#include "vk_device.h"
#include "vk_ops.h"

namespace ggml {

namespace vk {
namespace {

constexpr uint32_t kSetsPerPool = 256;

// Bytes [lo, hi) of one device buffer.
struct Range {
    uint64_t id;
    size_t lo, hi;
    bool overlaps(const Range& o) const { return id == o.id && lo < o.hi && o.lo < hi; }
};

bool any_overlap(const std::vector<Range>& a, const std::vector<Range>& b) {
    for (const Range& x : a)
        for (const Range& y : b)
            if (x.overlaps(y)) return true;
    return false;
}

std::string describe(const Tensor* node) {
    std::string s =
        std::string(op_name(node->op)) + " node '" + node->name + "' " + node->shape_str();
    for (int i = 0; i < kMaxSrc; ++i)
        if (node->src[i]) s += (i == 0 ? " <- " : ", ") + node->src[i]->shape_str();
    return s;
}

class VulkanBackend : public Backend {
  public:
    explicit VulkanBackend(Device& dev);
    ~VulkanBackend() override;
    VulkanBackend(const VulkanBackend&) = delete;
    VulkanBackend& operator=(const VulkanBackend&) = delete;

    const char* name() const override { return "vulkan"; }
    bool is_host() const override { return false; }
    bool supports(const Tensor* node) const override { return op_supported(node, limits_); }
    size_t work_size(const Tensor*) const override { return 0; }
    size_t alignment() const override { return std::max<size_t>(64, dev_.storage_align()); }
    std::unique_ptr<Buffer> alloc_buffer(size_t size) override {
        return std::make_unique<VulkanBuffer>(*this, dev_, size);
    }
    void compute(const std::vector<Tensor*>& nodes, const std::vector<void*>& work,
                 KernelErrors& errors) override;

  private:
    void run(const std::vector<Tensor*>& nodes, KernelErrors& errors);
    VkDescriptorSet allocate_set();
    void ensure_params(size_t n_dispatches);

    Device& dev_;
    Limits limits_{};
    VkCommandPool pool_ = VK_NULL_HANDLE;
    VkCommandBuffer cb_ = VK_NULL_HANDLE;
    VkFence fence_ = VK_NULL_HANDLE;
    std::vector<VkDescriptorPool> desc_pools_;
    size_t desc_pool_cur_ = 0;
    Allocation params_;
    size_t params_stride_ = 0;
    Allocation errbuf_;
    Allocation dummy_;
    // GGML_VK_PROFILE=1: a timestamp before and after every dispatch, summed per module and
    // printed when the backend is destroyed.
    bool profile_ = false;
    double ts_period_ns_ = 1.0;
    VkQueryPool queries_ = VK_NULL_HANDLE;
    uint32_t query_cap_ = 0;
    std::map<std::string, std::pair<double, size_t>> prof_;  // module -> (ms, dispatches)
};

VulkanBackend::VulkanBackend(Device& dev) : dev_(dev) {
    for (int i = 0; i < 3; ++i) limits_.max_groups[i] = dev.max_groups(i);
    limits_.max_range = dev.max_storage_range();
    const size_t a = dev.storage_align();
    params_stride_ = (sizeof(ShaderParams) + a - 1) / a * a;
    VkDevice d = dev.dev();
    auto pci = vk_info<VkCommandPoolCreateInfo>(VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO);
    pci.queueFamilyIndex = dev.queue_family();
    check(vkCreateCommandPool(d, &pci, nullptr, &pool_), "vkCreateCommandPool");
    auto ai = vk_info<VkCommandBufferAllocateInfo>(VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO);
    ai.commandPool = pool_;
    ai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
    ai.commandBufferCount = 1;
    check(vkAllocateCommandBuffers(d, &ai, &cb_), "vkAllocateCommandBuffers");
    auto fci = vk_info<VkFenceCreateInfo>(VK_STRUCTURE_TYPE_FENCE_CREATE_INFO);
    check(vkCreateFence(d, &fci, nullptr, &fence_), "vkCreateFence");
    errbuf_ = dev.create_buffer(16, true);
    dummy_ = dev.create_buffer(256, false);
    const char* prof = std::getenv("GGML_VK_PROFILE");
    profile_ = prof && *prof && std::strcmp(prof, "0") != 0 && dev.timestamp_period_ns() > 0;
    ts_period_ns_ = dev.timestamp_period_ns();
}

VulkanBackend::~VulkanBackend() {
    VkDevice d = dev_.dev();
    if (profile_ && !prof_.empty()) {
        std::fprintf(stderr, "ggml vulkan profile (GPU time per shader module):\n");
        for (const auto& kv : prof_)
            std::fprintf(stderr, "  %-16s %10.3f ms  %8zu dispatches  %8.3f us each\n",
                         kv.first.c_str(), kv.second.first, kv.second.second,
                         1e3 * kv.second.first / (double)kv.second.second);
    }
    if (queries_) vkDestroyQueryPool(d, queries_, nullptr);
    for (VkDescriptorPool p : desc_pools_) vkDestroyDescriptorPool(d, p, nullptr);
    dev_.destroy_buffer(params_);
    dev_.destroy_buffer(errbuf_);
    dev_.destroy_buffer(dummy_);
    vkDestroyFence(d, fence_, nullptr);
    vkDestroyCommandPool(d, pool_, nullptr);
}

VkDescriptorSet VulkanBackend::allocate_set() {
    VkDescriptorSetLayout layout = dev_.set_layout();
    for (;;) {
        if (desc_pool_cur_ == desc_pools_.size()) {
            VkDescriptorPoolSize ps{VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, kSetsPerPool * kNumBindings};
            auto ci =
                vk_info<VkDescriptorPoolCreateInfo>(VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO);
            ci.maxSets = kSetsPerPool;
            ci.poolSizeCount = 1;
            ci.pPoolSizes = &ps;
            VkDescriptorPool p = VK_NULL_HANDLE;
            check(vkCreateDescriptorPool(dev_.dev(), &ci, nullptr, &p), "vkCreateDescriptorPool");
            desc_pools_.push_back(p);
        }
        auto ai =
            vk_info<VkDescriptorSetAllocateInfo>(VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO);
        ai.descriptorPool = desc_pools_[desc_pool_cur_];
        ai.descriptorSetCount = 1;
        ai.pSetLayouts = &layout;
        VkDescriptorSet set = VK_NULL_HANDLE;
        const VkResult r = vkAllocateDescriptorSets(dev_.dev(), &ai, &set);
        if (r == VK_SUCCESS) return set;
        if (r != VK_ERROR_OUT_OF_POOL_MEMORY && r != VK_ERROR_FRAGMENTED_POOL)
            check(r, "vkAllocateDescriptorSets");
        ++desc_pool_cur_;  // this pool is full: move on to the next (created on demand)
    }
}

void VulkanBackend::ensure_params(size_t n_dispatches) {
    const size_t need = n_dispatches * params_stride_;
    if (params_.size >= need) return;
    dev_.destroy_buffer(params_);  // the previous submit has completed (compute waits)
    params_ = dev_.create_buffer(std::max(need, params_.size * 2), true);
}

void VulkanBackend::compute(const std::vector<Tensor*>& nodes, const std::vector<void*>&,
                            KernelErrors& errors) {
    try {
        run(nodes, errors);
    } catch (const Error& e) {
        errors.report(e.what());
    }
    if (dev_.validation())
        for (const std::string& m : dev_.take_validation_errors())
            errors.report("vulkan validation error: " + m);
}

void VulkanBackend::run(const std::vector<Tensor*>& nodes, KernelErrors& errors) {
    std::vector<Dispatch> ds;
    std::vector<size_t> node_of;
    for (size_t i = 0; i < nodes.size(); ++i) {
        const Tensor* node = nodes[i];
        if (node->op == Op::NONE || op_info(node->op).view) continue;
        if (!supports(node)) {
            errors.report("vulkan: no kernel for this op/dtype/layout: " + describe(node));
            continue;
        }
        const size_t before = ds.size();
        op_prepare(node, ds);
        for (size_t k = before; k < ds.size(); ++k) {
            node_of.push_back(i);
            ds[k].pc.node = (uint32_t)i;
        }
    }
    if (ds.empty()) return;

    ensure_params(ds.size());
    VkDevice d = dev_.dev();
    for (VkDescriptorPool p : desc_pools_)
        check(vkResetDescriptorPool(d, p, 0), "vkResetDescriptorPool");
    desc_pool_cur_ = 0;
    std::memset(errbuf_.mapped, 0, 16);

    check(vkResetCommandPool(d, pool_, 0), "vkResetCommandPool");
    auto bi = vk_info<VkCommandBufferBeginInfo>(VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO);
    bi.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
    check(vkBeginCommandBuffer(cb_, &bi), "vkBeginCommandBuffer");
    if (profile_ && query_cap_ < 2 * ds.size()) {
        if (queries_) vkDestroyQueryPool(d, queries_, nullptr);
        query_cap_ = (uint32_t)(2 * ds.size());
        auto qci = vk_info<VkQueryPoolCreateInfo>(VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO);
        qci.queryType = VK_QUERY_TYPE_TIMESTAMP;
        qci.queryCount = query_cap_;
        check(vkCreateQueryPool(d, &qci, nullptr, &queries_), "vkCreateQueryPool");
    }
    if (profile_) vkCmdResetQueryPool(cb_, queries_, 0, query_cap_);
    std::vector<std::pair<std::string, uint32_t>> timed;  // (module, first query)

    auto mb = vk_info<VkMemoryBarrier>(VK_STRUCTURE_TYPE_MEMORY_BARRIER);
    // Writes of earlier submissions (transfers, other segments) become visible first.
    mb.srcAccessMask =
        VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT | VK_ACCESS_HOST_WRITE_BIT;
    mb.dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT;
    vkCmdPipelineBarrier(cb_, VK_PIPELINE_STAGE_ALL_COMMANDS_BIT | VK_PIPELINE_STAGE_HOST_BIT,
                         VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, 0, 1, &mb, 0, nullptr, 0, nullptr);
    mb.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT;

    std::vector<Range> pending_reads, pending_writes, reads, writes;
    size_t n_recorded = 0;
    for (size_t k = 0; k < ds.size(); ++k) {
        Dispatch& dp = ds[k];
        const Tensor* node = nodes[node_of[k]];
        VkDescriptorBufferInfo infos[kNumBindings];
        reads.clear();
        writes.clear();
        bool ok = true;
        for (int b = 0; b < 6 && ok; ++b) {
            VkDescriptorBufferInfo& bi_ = infos[kBindDst + b];
            const Tensor* t = dp.bind[b];
            if (!t) {
                bi_ = {dummy_.buffer, 0, VK_WHOLE_SIZE};
                continue;
            }
            Location loc;
            if (!t->data || !dev_.resolve(t->data, &loc)) {
                errors.report("vulkan: " + std::string(b == 0 ? "result" : "a source") +
                              " is not in Vulkan memory: " + describe(node));
                ok = false;
                break;
            }
            // Strides and offset in elements; in bytes for q8_0/q4_0 (2-byte aligned blocks).
            const bool quant = dtype_is_quantized(t->type);
            const size_t es = quant ? 1 : dtype_size(t->type);
            const size_t nbytes = t->nbytes();
            const size_t start = loc.offset / dev_.storage_align() * dev_.storage_align();
            const size_t range = std::min(loc.buffer_size - start, limits_.max_range);
            if (loc.offset + nbytes > loc.buffer_size || loc.offset + nbytes - start > range ||
                (loc.offset - start) % (quant ? 2 : es) != 0) {
                errors.report("vulkan: tensor '" + std::string(t->name) +
                              "' lies outside its buffer or is misaligned: " + describe(node));
                ok = false;
                break;
            }
            bi_ = {loc.buffer, start, range};
            TensorDesc& td = dp.params.t[b];
            for (int i = 0; i < 4; ++i) {
                td.ne[i] = (uint32_t)t->ne[i];
                td.nb[i] = (uint32_t)(t->nb[i] / es);
            }
            td.offs = (uint32_t)((loc.offset - start) / es);
            td.type = (uint32_t)t->type;
            (b == 0 ? writes : reads).push_back({loc.id, loc.offset, loc.offset + nbytes});
        }
        if (!ok) continue;

        std::memcpy((uint8_t*)params_.mapped + k * params_stride_, &dp.params,
                    sizeof(ShaderParams));
        infos[kBindParams] = {params_.buffer, k * params_stride_, sizeof(ShaderParams)};
        infos[kBindErrors] = {errbuf_.buffer, 0, 16};
        const VkDescriptorSet set = allocate_set();
        VkWriteDescriptorSet w[kNumBindings];
        for (uint32_t b = 0; b < kNumBindings; ++b) {
            w[b] = vk_info<VkWriteDescriptorSet>(VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET);
            w[b].dstSet = set;
            w[b].dstBinding = b;
            w[b].descriptorCount = 1;
            w[b].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
            w[b].pBufferInfo = &infos[b];
        }
        vkUpdateDescriptorSets(d, kNumBindings, w, 0, nullptr);

        if (any_overlap(reads, pending_writes) || any_overlap(writes, pending_writes) ||
            any_overlap(writes, pending_reads)) {
            vkCmdPipelineBarrier(cb_, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
                                 VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, 0, 1, &mb, 0, nullptr, 0,
                                 nullptr);
            pending_reads.clear();
            pending_writes.clear();
        }
        pending_reads.insert(pending_reads.end(), reads.begin(), reads.end());
        pending_writes.insert(pending_writes.end(), writes.begin(), writes.end());

        const std::string module = dp.module + (dp.has_fp16 && dev_.fp16_storage() ? "_fp16" : "");
        vkCmdBindPipeline(cb_, VK_PIPELINE_BIND_POINT_COMPUTE, dev_.pipeline(module));
        vkCmdBindDescriptorSets(cb_, VK_PIPELINE_BIND_POINT_COMPUTE, dev_.pipeline_layout(), 0, 1,
                                &set, 0, nullptr);
        vkCmdPushConstants(cb_, dev_.pipeline_layout(), VK_SHADER_STAGE_COMPUTE_BIT, 0,
                           sizeof(PushConsts), &dp.pc);
        uint32_t gx = dp.groups[0], gy = dp.groups[1];
        if (dp.fold) {
            gx = std::min(dp.groups[0], limits_.max_groups[0]);
            gy = (dp.groups[0] + gx - 1) / gx;
        }
        const uint32_t q = (uint32_t)(2 * timed.size());
        if (profile_) {
            vkCmdWriteTimestamp(cb_, VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, queries_, q);
            timed.push_back({module, q});
        }
        if (gx > 0 && gy > 0 && dp.groups[2] > 0) vkCmdDispatch(cb_, gx, gy, dp.groups[2]);
        if (profile_)
            vkCmdWriteTimestamp(cb_, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, queries_, q + 1);
        ++n_recorded;
    }

    // Shader writes (the error buffer among them) become visible to the host after the fence.
    auto hb = vk_info<VkMemoryBarrier>(VK_STRUCTURE_TYPE_MEMORY_BARRIER);
    hb.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT;
    hb.dstAccessMask = VK_ACCESS_HOST_READ_BIT;
    vkCmdPipelineBarrier(cb_, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_PIPELINE_STAGE_HOST_BIT, 0,
                         1, &hb, 0, nullptr, 0, nullptr);
    check(vkEndCommandBuffer(cb_), "vkEndCommandBuffer");
    if (n_recorded == 0) return;
    dev_.submit_and_wait(cb_, fence_);
    if (profile_ && !timed.empty()) {
        std::vector<uint64_t> ts(2 * timed.size());
        check(vkGetQueryPoolResults(d, queries_, 0, (uint32_t)ts.size(), ts.size() * 8, ts.data(),
                                    8, VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT),
              "vkGetQueryPoolResults");
        for (const auto& t : timed) {
            auto& acc = prof_[t.first];
            acc.first += (double)(ts[t.second + 1] - ts[t.second]) * ts_period_ns_ * 1e-6;
            acc.second += 1;
        }
    }

    uint32_t e[4];
    std::memcpy(e, errbuf_.mapped, sizeof(e));
    if (e[0] != 0 && e[1] < nodes.size()) {
        const Tensor* node = nodes[e[1]];
        errors.report(std::string(op_name(node->op)) + ": row id " + std::to_string((int32_t)e[2]) +
                      " out of range [0, " + std::to_string(e[3]) + ") in node '" + node->name +
                      "'");
    }
}

}  // namespace
}  // namespace vk

bool vulkan_available(std::string* reason) {
    try {
        vk::Device::get();
        return true;
    } catch (const Error& e) {
        if (reason) *reason = e.what();
        return false;
    }
}

std::unique_ptr<Backend> make_vulkan_backend() {
    return std::make_unique<vk::VulkanBackend>(vk::Device::get());
}

}  // namespace ggml
