# `make package`: a Debian package (CPack DEB) of the six tools with stripped binaries, man
# pages, shell completions, the systemd units and sysusers file from examples/systemd, and
# examples/config.yaml as the conffile /etc/hs/config.yaml (its state paths moved to
# /var/lib/hs, the units' state directory). Installed paths follow the Debian policy
# (/usr/bin and /usr/sbin, gzipped man pages, /lib/systemd/system); tests/cli/test_package.sh
# checks them.

# Each tool installs itself (tools/*/CMakeLists.txt: bin, hs-admin in sbin).
set(HS_PACKAGE_TOOLS hs-control hs-derper hs-stun hs-admin hs-keygen hs-derpmap)
set(HS_PKG_DIR ${CMAKE_BINARY_DIR}/package)

# Man pages gzipped without name or time stamp (gzip -n), so rebuilds give the same bytes.
file(GLOB HS_MAN_PAGES ${CMAKE_SOURCE_DIR}/man/*.[18])
set(HS_MAN_GZ)
foreach(page ${HS_MAN_PAGES})
  get_filename_component(name ${page} NAME)
  string(REGEX REPLACE ".*\\.([18])$" "\\1" section ${name})
  set(gz ${HS_PKG_DIR}/man/${name}.gz)
  add_custom_command(OUTPUT ${gz} COMMAND ${CMAKE_COMMAND} -E make_directory ${HS_PKG_DIR}/man
                     COMMAND gzip -9nc ${page} > ${gz} DEPENDS ${page} VERBATIM)
  list(APPEND HS_MAN_GZ ${gz})
  install(FILES ${gz} DESTINATION share/man/man${section})
endforeach()
add_custom_target(hs_man_gz ALL DEPENDS ${HS_MAN_GZ})

foreach(tool ${HS_PACKAGE_TOOLS})
  install(FILES ${CMAKE_SOURCE_DIR}/completions/bash/${tool} DESTINATION share/bash-completion/completions)
  install(FILES ${CMAKE_SOURCE_DIR}/completions/zsh/_${tool} DESTINATION share/zsh/vendor-completions)
  install(FILES ${CMAKE_SOURCE_DIR}/completions/fish/${tool}.fish DESTINATION share/fish/vendor_completions.d)
endforeach()

# The units name /usr/local/bin and /usr/local/sbin (a hand install, cmake's default prefix);
# the package's binaries are in /usr/bin and /usr/sbin. The daily security check ships with
# its timer, not enabled: `systemctl enable --now hs-audit-check.timer` turns it on.
set(HS_UNITS hs-control.service hs-derper.service hs-stun.service hs-audit-check.service hs-audit-check.timer)
foreach(unit ${HS_UNITS})
  file(READ ${CMAKE_SOURCE_DIR}/examples/systemd/${unit} text)
  string(REPLACE "/usr/local/bin/" "/usr/bin/" text "${text}")
  string(REPLACE "/usr/local/sbin/" "/usr/sbin/" text "${text}")
  file(WRITE ${HS_PKG_DIR}/systemd/${unit} "${text}")
  install(FILES ${HS_PKG_DIR}/systemd/${unit} DESTINATION /lib/systemd/system)
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/examples/systemd/${unit})
endforeach()
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/examples/config.yaml)
install(FILES ${CMAKE_SOURCE_DIR}/examples/systemd/hs.sysusers.conf DESTINATION lib/sysusers.d RENAME hs.conf)

# Relative paths in the config are relative to /etc/hs, which the units keep read-only.
file(READ ${CMAKE_SOURCE_DIR}/examples/config.yaml text)
foreach(key noise_private.key derp_server_private.key db.sqlite)
  string(REPLACE ": ${key}\n" ": /var/lib/hs/${key}\n" text "${text}")
endforeach()
file(WRITE ${HS_PKG_DIR}/config.yaml "${text}")
install(FILES ${HS_PKG_DIR}/config.yaml DESTINATION /etc/hs PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
install(FILES ${CMAKE_SOURCE_DIR}/examples/policy.hujson DESTINATION share/doc/hs/examples)
file(WRITE ${HS_PKG_DIR}/conffiles "/etc/hs/config.yaml\n")

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME hs)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_PACKAGE_CONTACT "hs maintainers <hs@example.invalid>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "self-hosted Tailscale control server, DERP relay and STUN server")
set(CPACK_PACKAGE_DESCRIPTION "hs-control coordinates official Tailscale clients (as Tailscale or headscale do), hs-derper relays their traffic, hs-stun answers STUN; hs-admin, hs-keygen and hs-derpmap administer them.")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${HS_PKG_DIR}/conffiles ${CMAKE_SOURCE_DIR}/packaging/debian/postinst)
include(CPack)
