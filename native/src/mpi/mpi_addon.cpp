// fog8_mpi addon: the few MPI collectives data-parallel training needs (src/train/distributed.ts).
// Built against Open MPI when scripts/find-mpi.mjs finds it (FOG8_HAVE_MPI=1); otherwise every
// function but available() throws an error that names the Debian packages to install.
//
// Gradients are summed in a fixed order, not with MPI_Allreduce (whose association order is the
// implementation's): sumOrdered() sends chunk k of every rank's buffer to rank k (MPI_Alltoallv),
// rank k adds its N pieces as 0 + x₀ + x₁ + … + x_{N−1} in float32, then MPI_Allgatherv hands the
// summed chunks to everyone. Each element is thus the same left-to-right float32 sum a single
// process forms when it accumulates N micro-batch gradients in order.
#include <napi.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#if FOG8_HAVE_MPI
// The C API only: the deprecated C++ bindings would need libmpi_cxx.
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <dlfcn.h>
#include <mpi.h>
#include <unistd.h>

#include <csignal>
#endif

namespace {

#if FOG8_HAVE_MPI
bool g_initialized = false;
int g_rank = 0;
int g_size = 1;
std::vector<float> g_pieces;  // sumOrdered's receive buffer, reused across steps

// When a rank dies, mpirun ends the others with SIGTERM (then SIGKILL) while they wait inside a
// collective, where no JavaScript runs. So each blocking collective installs a handler that
// writes which rank, step and collective it was in (async-signal-safe write), then chains to the
// handler it replaced (Node's, which turns SIGTERM into a clean stop request).
char g_who[160] = "fog8: rank ?";
volatile long g_step = -1;
const char* volatile g_what = "";
struct sigaction g_previous;

size_t appendText(char* buf, size_t at, size_t cap, const char* text) {
  while (*text != 0 && at + 1 < cap) buf[at++] = *text++;
  return at;
}

size_t appendLong(char* buf, size_t at, size_t cap, long v) {
  char digits[24];
  int n = 0;
  if (v < 0) return appendText(buf, at, cap, "?");
  do {
    digits[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v > 0 && n < 23);
  while (n > 0 && at + 1 < cap) buf[at++] = digits[--n];
  return at;
}

void onSignalInCollective(int sig) {
  char line[400];
  size_t n = appendText(line, 0, sizeof line, g_who);
  n = appendText(line, n, sizeof line, ": SIGTERM in step ");
  n = appendLong(line, n, sizeof line, g_step);
  n = appendText(line, n, sizeof line, " while waiting for the other ranks (");
  n = appendText(line, n, sizeof line, g_what);
  n = appendText(line, n, sizeof line, "); if the job ends now, another rank failed or the job was aborted (mpirun names the rank)\n");
  ssize_t ignored = write(2, line, n);
  (void)ignored;
  if (g_previous.sa_flags & SA_SIGINFO) {
    if (g_previous.sa_sigaction != nullptr) g_previous.sa_sigaction(sig, nullptr, nullptr);
  } else if (g_previous.sa_handler == SIG_DFL) {
    signal(sig, SIG_DFL);
    raise(sig);
  } else if (g_previous.sa_handler != SIG_IGN && g_previous.sa_handler != nullptr) {
    g_previous.sa_handler(sig);
  }
}

/** Scope of one blocking collective: the SIGTERM note above is installed, then the old handler put back. */
class InCollective {
 public:
  explicit InCollective(const char* what) {
    g_what = what;
    struct sigaction action;
    std::memset(&action, 0, sizeof action);
    action.sa_handler = onSignalInCollective;
    sigemptyset(&action.sa_mask);
    sigaction(SIGTERM, &action, &g_previous);
  }
  ~InCollective() { sigaction(SIGTERM, &g_previous, nullptr); }
  InCollective(const InCollective&) = delete;
  InCollective& operator=(const InCollective&) = delete;
};

void check(Napi::Env env, int rc, const char* what) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, text, &len);
  throw Napi::Error::New(env, std::string("fog8 MPI: ") + what + " failed on rank " + std::to_string(g_rank) + ": " + std::string(text, len));
}

void requireInit(Napi::Env env, const char* fn) {
  if (!g_initialized) throw Napi::Error::New(env, std::string("fog8 MPI: ") + fn + " before init()");
}

Napi::Value Init(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!g_initialized) {
    // Node loads addons with RTLD_LOCAL; Open MPI's plugins (dlopen'ed by MPI_Init) need libmpi's
    // symbols global, so promote the already-loaded library first (as mpi4py does).
    for (const char* lib : {"libmpi.so.40", "libmpi.so.12", "libmpi.so"}) {
      if (dlopen(lib, RTLD_NOW | RTLD_GLOBAL | RTLD_NOLOAD) != nullptr) break;
    }
    int provided = 0;
    check(env, MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
    // Errors come back as codes (turned into JS exceptions) instead of aborting inside MPI.
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g_size);
    g_initialized = true;
    char host[MPI_MAX_PROCESSOR_NAME];
    int hostLen = 0;
    MPI_Get_processor_name(host, &hostLen);
    size_t n = appendText(g_who, 0, sizeof g_who, "fog8: rank ");
    n = appendLong(g_who, n, sizeof g_who, g_rank);
    n = appendText(g_who, n, sizeof g_who, " of ");
    n = appendLong(g_who, n, sizeof g_who, g_size);
    n = appendText(g_who, n, sizeof g_who, " (host ");
    n = appendText(g_who, n, sizeof g_who, std::string(host, hostLen).c_str());
    n = appendText(g_who, n, sizeof g_who, ")");
    g_who[n] = 0;
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("rank", g_rank);
  out.Set("size", g_size);
  char name[MPI_MAX_PROCESSOR_NAME];
  int len = 0;
  MPI_Get_processor_name(name, &len);
  out.Set("host", std::string(name, len));
  return out;
}

/** allgatherv(bytes: Uint8Array) → Uint8Array[] (one per rank, in rank order). */
Napi::Value Allgatherv(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  requireInit(env, "allgatherv");
  if (info.Length() < 1 || !info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    throw Napi::TypeError::New(env, "allgatherv: expected a Uint8Array");
  }
  Napi::Uint8Array local = info[0].As<Napi::Uint8Array>();
  int mine = static_cast<int>(local.ByteLength());
  std::vector<int> counts(g_size), displs(g_size);
  InCollective scope("step exchange");
  check(env, MPI_Allgather(&mine, 1, MPI_INT, counts.data(), 1, MPI_INT, MPI_COMM_WORLD), "MPI_Allgather (lengths)");
  int total = 0;
  for (int r = 0; r < g_size; r++) {
    displs[r] = total;
    total += counts[r];
  }
  std::vector<uint8_t> all(total > 0 ? total : 1);
  check(env, MPI_Allgatherv(local.Data(), mine, MPI_BYTE, all.data(), counts.data(), displs.data(), MPI_BYTE, MPI_COMM_WORLD), "MPI_Allgatherv");
  Napi::Array out = Napi::Array::New(env, g_size);
  for (int r = 0; r < g_size; r++) {
    Napi::Uint8Array piece = Napi::Uint8Array::New(env, counts[r]);
    if (counts[r] > 0) std::memcpy(piece.Data(), all.data() + displs[r], counts[r]);
    out.Set(r, piece);
  }
  return out;
}

/** sumOrdered(buf: Float32Array): in place, buf ← 0 + buf_rank0 + buf_rank1 + … (float32, rank order). */
Napi::Value SumOrdered(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  requireInit(env, "sumOrdered");
  if (info.Length() < 1 || !info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
    throw Napi::TypeError::New(env, "sumOrdered: expected a Float32Array");
  }
  Napi::Float32Array buf = info[0].As<Napi::Float32Array>();
  const int64_t n = static_cast<int64_t>(buf.ElementLength());
  const int N = g_size;
  if (n / N > INT32_MAX / 2) throw Napi::RangeError::New(env, "sumOrdered: buffer too large for one collective");
  float* data = buf.Data();
  // Chunk k = [n·k/N, n·(k+1)/N): rank k sums chunk k.
  std::vector<int> sendCounts(N), sendDispls(N), recvCounts(N), recvDispls(N);
  for (int k = 0; k < N; k++) {
    const int64_t a = n * k / N, b = n * (k + 1) / N;
    sendCounts[k] = static_cast<int>(b - a);
    sendDispls[k] = static_cast<int>(a);
  }
  const int mine = sendCounts[g_rank];
  for (int r = 0; r < N; r++) {
    recvCounts[r] = mine;
    recvDispls[r] = r * mine;
  }
  g_pieces.resize(static_cast<size_t>(mine) * N + 1);
  InCollective scope("gradient sum");
  check(env, MPI_Alltoallv(data, sendCounts.data(), sendDispls.data(), MPI_FLOAT, g_pieces.data(), recvCounts.data(), recvDispls.data(), MPI_FLOAT, MPI_COMM_WORLD), "MPI_Alltoallv (gradient chunks)");
  float* out = data + sendDispls[g_rank];
  for (int i = 0; i < mine; i++) out[i] = 0.0f;
  for (int r = 0; r < N; r++) {
    const float* piece = g_pieces.data() + static_cast<size_t>(r) * mine;
    for (int i = 0; i < mine; i++) out[i] += piece[i];  // plain IEEE float32 adds (no -ffast-math)
  }
  check(env, MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_FLOAT, data, sendCounts.data(), sendDispls.data(), MPI_FLOAT, MPI_COMM_WORLD), "MPI_Allgatherv (summed chunks)");
  return env.Undefined();
}

/** setStep(n): the step named by the SIGTERM note of a collective. */
Napi::Value SetStep(const Napi::CallbackInfo& info) {
  if (info.Length() > 0 && info[0].IsNumber()) g_step = static_cast<long>(info[0].As<Napi::Number>().Int64Value());
  return info.Env().Undefined();
}

Napi::Value Barrier(const Napi::CallbackInfo& info) {
  requireInit(info.Env(), "barrier");
  InCollective scope("barrier");
  check(info.Env(), MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier");
  return info.Env().Undefined();
}

/** abort(code): ends every rank of the job (mpirun reports it); does not return. */
Napi::Value Abort(const Napi::CallbackInfo& info) {
  int code = info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().Int32Value() : 1;
  if (g_initialized) MPI_Abort(MPI_COMM_WORLD, code);
  return info.Env().Undefined();
}

Napi::Value Finalize(const Napi::CallbackInfo& info) {
  if (g_initialized) {
    int done = 0;
    MPI_Finalized(&done);
    if (!done) MPI_Finalize();
  }
  return info.Env().Undefined();
}

Napi::Value Version(const Napi::CallbackInfo& info) {
  char text[MPI_MAX_LIBRARY_VERSION_STRING];
  int len = 0;
  MPI_Get_library_version(text, &len);
  return Napi::String::New(info.Env(), std::string(text, len));
}
#else
const char* kMissing =
    "fog8 was built without MPI: install Open MPI (Debian: apt-get install openmpi-bin libopenmpi-dev), "
    "then rebuild the addon (node scripts/build-native.mjs)";

Napi::Value Missing(const Napi::CallbackInfo& info) {
  throw Napi::Error::New(info.Env(), kMissing);
}
#endif

Napi::Value Available(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), FOG8_HAVE_MPI != 0);
}

Napi::Object InitModule(Napi::Env env, Napi::Object exports) {
  exports.Set("available", Napi::Function::New(env, Available));
#if FOG8_HAVE_MPI
  exports.Set("init", Napi::Function::New(env, Init));
  exports.Set("allgatherv", Napi::Function::New(env, Allgatherv));
  exports.Set("sumOrdered", Napi::Function::New(env, SumOrdered));
  exports.Set("barrier", Napi::Function::New(env, Barrier));
  exports.Set("setStep", Napi::Function::New(env, SetStep));
  exports.Set("abort", Napi::Function::New(env, Abort));
  exports.Set("finalize", Napi::Function::New(env, Finalize));
  exports.Set("version", Napi::Function::New(env, Version));
#else
  for (const char* fn : {"init", "allgatherv", "sumOrdered", "barrier", "setStep", "abort", "finalize", "version"}) {
    exports.Set(fn, Napi::Function::New(env, Missing));
  }
#endif
  return exports;
}

}  // namespace

NODE_API_MODULE(fog8_mpi, InitModule)
