/* Zero OS: the header Debian's build generates for luaconf.h's C module
 * paths (/usr/lib/DEB_HOST_MULTIARCH/lua/5.4/). */
#define DEB_HOST_MULTIARCH "aarch64-zos"
