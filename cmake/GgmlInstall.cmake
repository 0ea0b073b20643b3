# Installation: headers, the static libraries, a shared libggml (GGML_BUILD_SHARED), a CMake
# package (find_package(ggml CONFIG) -> ggml::ggml, components cpu/vulkan/cuda/shared) and a
# pkg-config file. Included from the top-level CMakeLists.txt after every library target exists.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

# Exported names: ggml::ggml (static, every backend built), ggml::core, ggml::cpu, ggml::vulkan,
# ggml::cuda, ggml::shared.
set_target_properties(ggml-core PROPERTIES EXPORT_NAME core)
set_target_properties(ggml-cpu PROPERTIES EXPORT_NAME cpu)
set(GGML_EXPORT_TARGETS ggml ggml-core ggml-cpu)
set(GGML_BUILT_COMPONENTS cpu)
foreach(backend vulkan cuda)
  if(TARGET ggml-${backend})
    set_target_properties(ggml-${backend} PROPERTIES EXPORT_NAME ${backend})
    list(APPEND GGML_EXPORT_TARGETS ggml-${backend})
    list(APPEND GGML_BUILT_COMPONENTS ${backend})
  endif()
endforeach()

if(GGML_BUILD_SHARED)
  # libggml.so is the static archives linked whole (nothing is compiled twice); their own
  # dependencies (OpenMP, Vulkan, CUDA) follow through the ordinary `ggml` link.
  set(stub ${CMAKE_BINARY_DIR}/ggml_shared.cpp)
  if(NOT EXISTS ${stub})
    file(WRITE ${stub} "// libggml.so: the static libraries linked whole.\n")
  endif()
  add_library(ggml_shared SHARED ${stub})
  set(archives)
  foreach(t ${GGML_EXPORT_TARGETS})
    list(APPEND archives $<TARGET_FILE:${t}>)
  endforeach()
  add_dependencies(ggml_shared ${GGML_EXPORT_TARGETS})
  target_link_libraries(ggml_shared PRIVATE
    -Wl,--whole-archive ${archives} -Wl,--no-whole-archive ggml)
  target_include_directories(ggml_shared INTERFACE
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/ggml/include>
    $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  target_compile_features(ggml_shared INTERFACE cxx_std_17)
  set_target_properties(ggml_shared PROPERTIES
    OUTPUT_NAME ggml EXPORT_NAME shared VERSION ${PROJECT_VERSION}
    SOVERSION ${PROJECT_VERSION_MAJOR})
  list(APPEND GGML_EXPORT_TARGETS ggml_shared)
  list(APPEND GGML_BUILT_COMPONENTS shared)
endif()

install(TARGETS ${GGML_EXPORT_TARGETS} EXPORT ggmlTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/ggml/include/ggml
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
  FILES_MATCHING PATTERN "*.h" PATTERN "*.def")

set(GGML_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/ggml)
install(EXPORT ggmlTargets NAMESPACE ggml:: DESTINATION ${GGML_CMAKE_DIR})
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/ggmlConfig.cmake.in
  ${CMAKE_BINARY_DIR}/ggmlConfig.cmake INSTALL_DESTINATION ${GGML_CMAKE_DIR})
write_basic_package_version_file(${CMAKE_BINARY_DIR}/ggmlConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/ggmlConfig.cmake ${CMAKE_BINARY_DIR}/ggmlConfigVersion.cmake
  DESTINATION ${GGML_CMAKE_DIR})

# pkg-config: `-lggml` is the shared library when built; `pkg-config --static` lists the archives
# and their dependencies for a fully static link.
set(GGML_PC_PRIVATE "")
foreach(t ggml-vulkan ggml-cuda)
  if(TARGET ${t})
    string(APPEND GGML_PC_PRIVATE " -l${t}")
  endif()
endforeach()
string(APPEND GGML_PC_PRIVATE " -lggml-cpu -lggml-core")
if(GGML_OPENMP)
  string(APPEND GGML_PC_PRIVATE " -fopenmp")
endif()
if(TARGET ggml-vulkan)
  string(APPEND GGML_PC_PRIVATE " -lvulkan")
endif()
if(TARGET ggml-cuda)
  string(APPEND GGML_PC_PRIVATE " -L${CUDAToolkit_LIBRARY_DIR} -lcudart_static -lcublas -ldl -lrt")
endif()
string(APPEND GGML_PC_PRIVATE " -lstdc++ -lpthread -lm")
# The .pc file finds the prefix relative to itself, so `cmake --install --prefix P` works.
file(RELATIVE_PATH GGML_PC_PREFIX "/r/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/r")
configure_file(${CMAKE_CURRENT_LIST_DIR}/ggml.pc.in ${CMAKE_BINARY_DIR}/ggml.pc @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/ggml.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
