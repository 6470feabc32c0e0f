#ifndef GOSPY_CELFUTILS_SHIM_H
#define GOSPY_CELFUTILS_SHIM_H
#include <libelf.h>
#include <gelf.h>
#include <elfutils/libdw.h>
#include <dwarf.h>
#endif
