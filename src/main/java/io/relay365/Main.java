package io.relay365;
public class Main { public static void main(String[] a) {} }
