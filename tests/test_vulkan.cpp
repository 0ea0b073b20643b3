// Vulkan backend tests: registry behaviour, device selection, buffer transfers, a plan mixing
// Vulkan and CPU segments, run-time errors and the validation-layer hook.
//
// Every test skips with a reason (WARN) when the backend is not compiled in or no Vulkan
// device is usable, so a machine without Vulkan never fails. Op-level correctness on Vulkan
// is the cross-backend harness's job (test_harness.cpp runs every case on "vulkan" when it is
// available); here the mixed plan is compared with the CPU-only plan of the same graph.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "ggml/ggml.h"

#if __has_include("vk_device.h")
#define GGML_TEST_HAVE_VULKAN 1
#include "vk_device.h"
#else
#define GGML_TEST_HAVE_VULKAN 0
#endif

using namespace ggml;

namespace {

bool listed(const std::vector<std::string>& v, const std::string& prefix) {
    for (const auto& s : v)
        if (s.compare(0, prefix.size(), prefix) == 0) return true;
    return false;
}

#if GGML_TEST_HAVE_VULKAN
// The Vulkan backend, or null after a WARN saying why the test is skipped.
std::unique_ptr<Backend> vulkan_or_skip() {
    const auto names = available_backends();
    if (std::find(names.begin(), names.end(), "vulkan") == names.end()) {
        std::string why = "no reason given";
        for (const auto& s : unavailable_backends())
            if (s.compare(0, 7, "vulkan:") == 0) why = s;
        WARN("skipped: no usable Vulkan device (" << why << ")");
        return nullptr;
    }
    return make_backend("vulkan");
}

// A backend that forwards everything to `inner` but claims not to support some ops, so the
// planner must run those nodes on the next backend and copy across.
class Masked : public Backend {
  public:
    Masked(Backend& inner, std::set<Op> off) : inner_(inner), off_(std::move(off)) {}
    const char* name() const override { return inner_.name(); }
    bool is_host() const override { return inner_.is_host(); }
    bool supports(const Tensor* n) const override {
        return !off_.count(n->op) && inner_.supports(n);
    }
    size_t work_size(const Tensor* n) const override { return inner_.work_size(n); }
    size_t alignment() const override { return inner_.alignment(); }
    std::unique_ptr<Buffer> alloc_buffer(size_t size) override { return inner_.alloc_buffer(size); }
    void compute(const std::vector<Tensor*>& nodes, const std::vector<void*>& work,
                 KernelErrors& errors) override {
        inner_.compute(nodes, work, errors);
    }

  private:
    Backend& inner_;
    std::set<Op> off_;
};

std::vector<float> read_f32(const Tensor* t) {
    REQUIRE(t->is_contiguous());
    std::vector<float> v((size_t)t->nelements());
    tensor_get(t, v.data(), 0, v.size() * 4);
    return v;
}

// A small decoder-like block: rms_norm -> projections (f16 weight) -> rope -> attention ->
// swiglu FFN -> residual -> softmax, with every op kind the planner may split at.
struct Block {
    Tensor *x, *pos, *wq, *out;
};
Block build_block(Context& c) {
    Block b;
    const int64_t D = 16, H = 4, T = 6;
    b.x = c.new_input(DType::F32, {D * H, T}, "x");
    b.pos = c.new_input(DType::I32, {T}, "pos");
    b.wq = c.new_input(DType::F16, {D * H, D * H}, "wq");
    Tensor* h = rms_norm(c, b.x, 1e-5f);
    Tensor* q = mul_mat(c, b.wq, h);  // [D*H, T]
    RopeParams rp;
    rp.n_dims = D;
    q = rope(c, reshape(c, q, {D, H, T}), b.pos, rp);  // [D, H, T]
    Tensor* qh = cont(c, permute(c, q, 0, 2, 1, 3));   // [D, T, H]
    Tensor* kh = cpy(c, qh, DType::F16);
    FlashAttnParams fp;
    fp.scale = 0.25f;
    fp.causal = 1;
    Tensor* a = flash_attn(c, qh, kh, kh, nullptr, fp);  // [D, H, T]
    a = reshape(c, a, {D * H, T});
    Tensor* g = silu(c, a);
    Tensor* f = swiglu(c, a, g);
    Tensor* r = add(c, b.x, scale(c, f, 0.5f));
    b.out = soft_max(c, r, nullptr, SoftMaxParams{});
    b.out->set_name("out");
    return b;
}

void fill_block(const Block& b) {
    std::vector<float> x((size_t)b.x->nelements());
    for (size_t i = 0; i < x.size(); ++i) x[i] = std::sin(0.37f * (float)i) * 0.8f;
    tensor_set(b.x, x.data(), 0, x.size() * 4);
    std::vector<int32_t> p((size_t)b.pos->nelements());
    for (size_t i = 0; i < p.size(); ++i) p[i] = (int32_t)(3 + i);
    tensor_set(b.pos, p.data(), 0, p.size() * 4);
    std::vector<f16_t> w((size_t)b.wq->nelements());
    for (size_t i = 0; i < w.size(); ++i) w[i] = f32_to_f16(std::cos(0.11f * (float)i) * 0.2f);
    tensor_set(b.wq, w.data(), 0, w.size() * 2);
}
#endif  // GGML_TEST_HAVE_VULKAN

}  // namespace

TEST_CASE("vulkan: the registry and make_backend agree on availability", "[vulkan]") {
    const auto avail = available_backends();
    const auto unavail = unavailable_backends();
    const bool in_avail = std::find(avail.begin(), avail.end(), "vulkan") != avail.end();
    const bool in_unavail = listed(unavail, "vulkan: ");
    // Never both; when compiled in, exactly one.
    CHECK(!(in_avail && in_unavail));
    if (GGML_TEST_HAVE_VULKAN) CHECK(in_avail != in_unavail);
    if (in_avail) {
        auto be = make_backend("vulkan");
        REQUIRE(be);
        CHECK(std::string(be->name()) == "vulkan");
        CHECK(!be->is_host());
        CHECK(be->work_size(nullptr) == 0);
    } else {
        CHECK_THROWS_AS(make_backend("vulkan"), Error);
        if (!GGML_TEST_HAVE_VULKAN) WARN("skipped: the Vulkan backend is not compiled in");
        for (const auto& s : unavail)
            if (s.compare(0, 7, "vulkan:") == 0) WARN("vulkan unavailable: " << s);
    }
}

#if GGML_TEST_HAVE_VULKAN
// Without the backend compiled in, only the registry test above runs (and says why).
TEST_CASE("vulkan: device selection prefers the best device type or honours GGML_VK_DEVICE",
          "[vulkan]") {
    auto be = vulkan_or_skip();
    if (!be) return;
    vk::Device& dev = vk::Device::get();
    const auto devices = vk::Device::list_devices();
    INFO("devices: " << devices.size() << ", chosen " << dev.index() << " " << dev.name());
    REQUIRE(dev.index() >= 0);
    REQUIRE(dev.index() < (int)devices.size());
    CHECK(!dev.name().empty());
    CHECK(devices[(size_t)dev.index()].find(dev.name()) != std::string::npos);
    if (const char* e = std::getenv("GGML_VK_DEVICE"); e && *e) {
        CHECK(dev.index() == std::atoi(e));
    } else {
        // No listed device may have a better type than the chosen one.
        auto rank = [](const std::string& s) {
            if (s.find("(discrete gpu)") != std::string::npos) return 4;
            if (s.find("(integrated gpu)") != std::string::npos) return 3;
            if (s.find("(virtual gpu)") != std::string::npos) return 2;
            if (s.find("(cpu)") != std::string::npos) return 1;
            return 0;
        };
        const int chosen = rank(devices[(size_t)dev.index()]);
        for (const auto& d : devices) CHECK(rank(d) <= chosen);
    }
    CHECK(dev.storage_align() >= 4);
    CHECK(be->alignment() % dev.storage_align() == 0);
}

TEST_CASE("vulkan: buffer write/read round trip through staging", "[vulkan]") {
    auto be = vulkan_or_skip();
    if (!be) return;
    // Larger than the 8 MiB staging buffer, and an odd size, so transfers are chunked.
    const size_t n = (size_t(9) << 20) + 13;
    auto buf = be->alloc_buffer(n);
    CHECK(buf->size() == n);
    CHECK(buf->base() == nullptr);
    CHECK(buf->device_base() != nullptr);
    auto buf2 = be->alloc_buffer(100);
    CHECK(buf2->device_base() != buf->device_base());

    std::vector<uint8_t> src(n), dst(n, 0);
    uint32_t s = 12345;
    for (auto& b : src) b = (uint8_t)((s = s * 1664525u + 1013904223u) >> 24);
    buf->write(0, src.data(), n);
    buf->read(0, dst.data(), n);
    CHECK(src == dst);

    // A partial write at an odd offset leaves its neighbours alone.
    const uint8_t patch[5] = {1, 2, 3, 4, 5};
    buf->write(1001, patch, 5);
    std::vector<uint8_t> win(9);
    buf->read(999, win.data(), 9);
    CHECK(win == std::vector<uint8_t>{src[999], src[1000], 1, 2, 3, 4, 5, src[1006], src[1007]});

    buf->fill(0xab);
    buf->read(n - 7, win.data(), 7);
    for (int i = 0; i < 7; ++i) CHECK(win[(size_t)i] == 0xab);

    CHECK_THROWS_AS(buf->read(n - 3, win.data(), 4), Error);
    CHECK_THROWS_AS(buf->write(n + 1, patch, 1), Error);

    // tensor_set / tensor_get resolve tensors through device_base().
    Context c;
    Tensor* t = c.new_tensor(DType::F32, {5, 3});
    auto tb = alloc_tensors(*be, {t});
    std::vector<float> v(15), w(15);
    for (int i = 0; i < 15; ++i) v[(size_t)i] = 0.5f * (float)i - 2.0f;
    tensor_set(t, v.data(), 0, 60);
    tensor_get(t, w.data(), 0, 60);
    CHECK(v == w);
}

TEST_CASE("vulkan: a plan mixing Vulkan and CPU segments equals the CPU plan", "[vulkan]") {
    auto vkb = vulkan_or_skip();
    if (!vkb) return;
    BackendOptions o;
    o.n_threads = 2;
    auto cpu = make_backend("cpu", o);

    // Reference: everything on the CPU.
    Context c1;
    Block b1 = build_block(c1);
    Graph g1 = build_graph({b1.out});
    Plan p1 = make_plan(c1, g1, {cpu.get()});
    Executor e1(std::move(p1), {cpu.get()});
    fill_block(b1);
    e1.run();
    const std::vector<float> ref = read_f32(b1.out);

    // Vulkan first, but silu and rope are "unsupported" there: they run on the CPU, so the
    // plan alternates segments with copies in both directions.
    Masked masked(*vkb, {Op::SILU, Op::ROPE});
    Context c2;
    Block b2 = build_block(c2);
    Graph g2 = build_graph({b2.out});
    std::vector<Backend*> be = {&masked, cpu.get()};
    Plan p2 = make_plan(c2, g2, be);
    INFO(p2.to_text());
    std::set<int> seg_backends;
    for (const auto& s : p2.segments) seg_backends.insert(s.backend);
    CHECK(seg_backends.size() == 2);
    CHECK(p2.segments.size() >= 4);
    CHECK(!p2.copies.empty());
    Executor e2(std::move(p2), be);
    fill_block(b2);
    e2.run();
    const std::vector<float> got = read_f32(b2.out);

    // Both paths use f32 arithmetic with different summation orders (tree reductions and
    // tiles on the device): agreement to ~1e-6 relative per element; 1e-4 absolute on
    // probabilities in [0, 1] is far below any indexing or synchronisation error.
    REQUIRE(got.size() == ref.size());
    double worst = 0;
    for (size_t i = 0; i < ref.size(); ++i)
        worst = std::max(worst, (double)std::fabs(got[i] - ref[i]));
    INFO("max |vulkan+cpu - cpu| = " << worst);
    CHECK(worst < 1e-4);

    // Running the same plan again gives the same bits (no state leaks between runs).
    e2.run();
    CHECK(read_f32(b2.out) == got);
}

TEST_CASE("vulkan: out-of-range row ids are run-time errors", "[vulkan]") {
    auto be = vulkan_or_skip();
    if (!be) return;
    Context c;
    Tensor* a = c.new_input(DType::F16, {8, 4}, "a");
    Tensor* ids = c.new_input(DType::I32, {3}, "ids");
    Tensor* r = get_rows(c, a, ids);
    r->set_name("gathered");
    Graph g = build_graph({r});
    Plan p = make_plan(c, g, {be.get()});
    Executor ex(std::move(p), {be.get()});
    std::vector<f16_t> av(32);
    for (int i = 0; i < 32; ++i) av[(size_t)i] = f32_to_f16((float)i);
    tensor_set(a, av.data(), 0, 64);
    std::vector<int32_t> good = {3, 0, 2};
    tensor_set(ids, good.data(), 0, 12);
    ex.run();
    std::vector<float> out = read_f32(r);
    for (int k = 0; k < 8; ++k) {
        CHECK(out[(size_t)k] == (float)(24 + k));  // exact: small integers in f16
        CHECK(out[(size_t)(8 + k)] == (float)k);
        CHECK(out[(size_t)(16 + k)] == (float)(16 + k));
    }
    std::vector<int32_t> bad = {1, 4, 0};
    tensor_set(ids, bad.data(), 0, 12);
    try {
        ex.run();
        FAIL("an out-of-range id did not raise an error");
    } catch (const Error& e) {
        const std::string m = e.what();
        INFO(m);
        CHECK(m.find("out of range") != std::string::npos);
        CHECK(m.find("4") != std::string::npos);
    }
}

TEST_CASE("vulkan: validation-layer errors are recorded when GGML_VK_VALIDATE=1", "[vulkan]") {
    auto be = vulkan_or_skip();
    if (!be) return;
    vk::Device& dev = vk::Device::get();
    if (!dev.validation()) {
        WARN("skipped: validation layers are off (set GGML_VK_VALIDATE=1 to enable them)");
        return;
    }
    dev.take_validation_errors();
    // A buffer with no usage bits breaks a valid-usage rule; the layer must report it.
    auto bci = vk::vk_info<VkBufferCreateInfo>(VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO);
    bci.size = 256;
    bci.usage = 0;
    VkBuffer b = VK_NULL_HANDLE;
    const VkResult r = vkCreateBuffer(dev.dev(), &bci, nullptr, &b);
    if (r == VK_SUCCESS) vkDestroyBuffer(dev.dev(), b, nullptr);
    CHECK(!dev.take_validation_errors().empty());
}
#endif
