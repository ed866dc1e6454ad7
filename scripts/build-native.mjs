// Placeholder until the native addon lands: nothing to build yet.
console.log('fog8: no native addon in this tree yet; the TypeScript reference kernels will be used.');
