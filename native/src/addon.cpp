// fog8_native module entry: every kernel group registers its functions on the exports.
#include <napi.h>

#include "register.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  fog8::registerCastsAndGemm(env, exports);
  fog8::registerFused(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(fog8_native, Init)
