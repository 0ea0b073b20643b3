// The Vulkan backend's entry points for the registry (backends/registry.cpp).
#pragma once

#include <memory>
#include <string>

#include "ggml/backend.h"

namespace ggml {

// True when a Vulkan device can be used here; otherwise `reason` says why ("vulkan: no Vulkan
// device", a missing driver, a bad GGML_VK_DEVICE, ...). The probe runs once per process.
bool vulkan_available(std::string* reason);
// Throws ggml::Error with the reason when no device is usable.
std::unique_ptr<Backend> make_vulkan_backend();

}  // namespace ggml
