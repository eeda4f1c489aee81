/* Public header of the caspnet engine: include this one file to use the library. */
#ifndef CASPNET_H
#define CASPNET_H

#include "runtime/status.h"
#include "runtime/runtime.h"
#include "runtime/half.h"
#include "runtime/tensor.h"
#include "model/weights.h"
#include "model/model.h"
#include "model/engine.h"

#define CASPNET_VERSION "0.1.0"

#endif
