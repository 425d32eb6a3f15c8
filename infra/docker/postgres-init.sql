-- One database per tier, as in production: GCC and each customer stack keep their own.
CREATE DATABASE gcc;
CREATE DATABASE acme;
CREATE DATABASE globex;
