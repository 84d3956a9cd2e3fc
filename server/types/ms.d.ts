// ms 2.x ships no types; the one call Patchbay makes.
declare module 'ms' {
  function ms(value: string): number | undefined;
  export default ms;
}
