/* Public header of the caspnet engine: include this one file to use the library. */
#ifndef CASPNET_H
#define CASPNET_H

#include "status.h"
#include "runtime.h"
#include "tensor.h"
#include "weights.h"
#include "model.h"
#include "engine.h"

#define CASPNET_VERSION "0.1.0"

#endif
