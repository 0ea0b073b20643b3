// test-backend-ops: runs the cross-backend op harness from the command line.
//
//   test-backend-ops [-b BACKEND] [-o OP] [-c SUBSTRING] [--list] [-v]
//
// With no arguments every case runs on every available backend. One line per case:
//   BACKEND  CASE  nmse=...  tol=...  OK|FAIL|SKIP
// then "N passed, N failed"; the exit code is 1 when anything failed.
// --list prints, per backend, the ops it supports for at least one case shape and those it
// does not (a fused op it lacks runs through its decomposition).
#include <cstdio>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "ggml/ggml.h"
#include "harness.h"

using namespace ggml;
using namespace ggml::test;

namespace {

void usage(const char* argv0) {
    std::printf(
        "usage: %s [-b BACKEND] [-o OP] [-c SUBSTRING] [--list] [-v]\n"
        "  -b BACKEND   run only on this backend (default: every available one)\n"
        "  -o OP        run only the cases covering this op (ops.def name, e.g. flash_attn)\n"
        "  -c SUBSTRING run only the cases whose name contains SUBSTRING\n"
        "  --list       list the ops each backend supports, then exit\n"
        "  -v           print timings and details for passing cases too\n",
        argv0);
}

bool case_matches(const Case& c, bool have_op, Op op, const std::string& sub) {
    if (!sub.empty() && c.name.find(sub) == std::string::npos) return false;
    if (!have_op) return true;
    for (Op o : c.ops)
        if (o == op) return true;
    for (Op o : ops_in_case(c))
        if (o == op) return true;
    return false;
}

int list_support(const std::vector<std::string>& backends) {
    for (const std::string& bn : backends) {
        std::unique_ptr<Backend> be = make_backend(bn);
        std::map<Op, bool> seen;  // op -> supported for at least one case's node
        for (const Case& c : all_cases()) {
            Context ctx;
            for (const Tensor* n : case_nodes(c, ctx)) {
                bool ok = op_info(n->op).view || be->supports(n);
                seen[n->op] = seen[n->op] || ok;
            }
        }
        std::printf("backend %s\n  supported:", bn.c_str());
        for (int i = 1; i < kOpCount; ++i)
            if (seen.count((Op)i) && seen[(Op)i]) std::printf(" %s", op_name((Op)i));
        std::printf("\n  not supported:");
        int missing = 0;
        for (int i = 1; i < kOpCount; ++i)
            if (!seen.count((Op)i) || !seen[(Op)i]) {
                ++missing;
                std::printf(" %s", op_name((Op)i));
                if (op_info((Op)i).decomposed) std::printf(" (runs via decomposition)");
            }
        std::printf("%s\n", missing ? "" : " (none)");
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    std::string backend, sub;
    Op op = Op::NONE;
    bool have_op = false, list = false, verbose = false;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if ((a == "-b" || a == "-o" || a == "-c") && i + 1 < argc) {
            const std::string val = argv[++i];
            if (a == "-b") backend = val;
            if (a == "-c") sub = val;
            if (a == "-o") {
                if (!op_from_name(val, op)) {
                    std::fprintf(stderr, "unknown op '%s'\n", val.c_str());
                    return 2;
                }
                have_op = true;
            }
        } else if (a == "--list") {
            list = true;
        } else if (a == "-v") {
            verbose = true;
        } else if (a == "-h" || a == "--help") {
            usage(argv[0]);
            return 0;
        } else {
            usage(argv[0]);
            return 2;
        }
    }

    std::vector<std::string> backends;
    try {
        for (const std::string& u : unavailable_backends())
            std::printf("unavailable: %s\n", u.c_str());
        if (backend.empty()) {
            backends = available_backends();
        } else {
            bool found = false;
            for (const std::string& b : available_backends()) found = found || b == backend;
            if (!found) {
                std::fprintf(stderr, "backend '%s' is not available\n", backend.c_str());
                return 2;
            }
            backends = {backend};
        }
        if (list) return list_support(backends);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }

    int passed = 0, failed = 0, skipped = 0;
    double total_s = 0.0;
    for (const std::string& bn : backends) {
        std::unique_ptr<Backend> be;
        try {
            be = make_backend(bn);
        } catch (const std::exception& e) {
            std::printf("%-6s cannot create backend: %s\nFAIL\n", bn.c_str(), e.what());
            ++failed;
            continue;
        }
        for (const Case& c : all_cases()) {
            if (!case_matches(c, have_op, op, sub)) continue;
            CaseResult r = run_case(c, *be, bn);
            // The first available backend is the reference CPU backend: it must run everything.
            if (r.status == Status::Skip && bn == available_backends().front())
                r.status = Status::Fail;
            total_s += r.seconds;
            const char* st = r.status == Status::Pass   ? "OK"
                             : r.status == Status::Skip ? "SKIP"
                                                        : "FAIL";
            std::printf("%-6s %-52s nmse=%-10.3g tol=%-8.1g %s", bn.c_str(), c.name.c_str(), r.nmse,
                        r.tol, st);
            if (verbose) std::printf("  (%.1f ms, max|err| %.3g)", r.seconds * 1e3, r.max_abs);
            if (r.status != Status::Pass || (verbose && !r.detail.empty()))
                std::printf("  %s", r.detail.c_str());
            std::printf("\n");
            if (r.status == Status::Pass) ++passed;
            if (r.status == Status::Fail) ++failed;
            if (r.status == Status::Skip) ++skipped;
        }
    }
    if (verbose || skipped) std::printf("%d skipped, %.2f s in cases\n", skipped, total_s);
    std::printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
